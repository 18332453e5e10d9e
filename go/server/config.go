// The suite's server flags (crates/common/src/config.rs), with the same names, defaults and
// spellings of durations and sizes, parsed and checked before anything listens.

package main

import (
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The same defaults as crates/common/src/config.rs, for the reasons given there.
const (
	defaultAddr           = "127.0.0.1:7878"
	defaultBuffer         = 16 * 1024
	defaultMaxConnections = 16_384
	defaultBacklog        = 4096
	defaultMsgSize        = 64
	maxBuffer             = 64 << 20
)

// config is a validated command line.
type config struct {
	addr           *net.TCPAddr
	threads        int
	buffer         int
	maxConnections int64
	backlog        int
	nagle          bool
	work           work
	workEvery      uint64
	msgSize        int
}

// parseConfig reads the command line, or exits 2 with a line saying what is wrong.
func parseConfig(about string) config {
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "TCP echo server: %s.\n\nPrints `listening on IP:PORT` first; on "+
			"SIGINT or SIGTERM stops accepting, closes its connections, prints a one-line JSON "+
			"summary and exits 0.\n\n", about)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", defaultAddr, "address to listen on; port 0 picks a free port")
	threads := fs.Int("threads", runtime.NumCPU(), "GOMAXPROCS: threads that run goroutines at once")
	buffer := fs.Int("buffer", defaultBuffer, "bytes read from a connection at a time")
	maxConns := fs.Int64("max-connections", defaultMaxConnections,
		"connections held at once; beyond it a new one is closed at once")
	backlog := fs.Int("backlog", defaultBacklog, "length of the kernel's queue of connections not yet accepted")
	nagle := fs.Bool("nagle", false, "leave Nagle's algorithm on")
	workSpelling := fs.String("work", "none", "none, sleep:DUR, block:DUR, offload:DUR, cpu:DUR, "+
		"file-block:BYTES, file-offload:BYTES, sqlite-block, sqlite-offload")
	workEvery := fs.Uint64("work-every", 1, "do the work on every Nth message of a connection only")
	msgSize := fs.Int("msg-size", defaultMsgSize, "message size, which is how the server tells messages apart")
	fs.Parse(os.Args[1:])

	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "echo-go: error: "+format+"\n", args...)
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fail("unexpected argument '%s'", fs.Arg(0))
	}
	tcp, err := net.ResolveTCPAddr("tcp", *addr)
	if err != nil || tcp.IP == nil {
		fail("--addr '%s' is not IP:PORT", *addr)
	}
	for _, positive := range []struct {
		name  string
		value int64
	}{{"threads", int64(*threads)}, {"buffer", int64(*buffer)}, {"max-connections", *maxConns},
		{"backlog", int64(*backlog)}, {"work-every", int64(*workEvery)}, {"msg-size", int64(*msgSize)}} {
		if positive.value < 1 {
			fail("--%s %d: must be at least 1", positive.name, positive.value)
		}
	}
	if *buffer > maxBuffer {
		fail("--buffer %d: more than the 64 MiB allowed", *buffer)
	}
	w, err := parseWork(*workSpelling)
	if err != nil {
		fail("%v", err)
	}
	return config{tcp, *threads, *buffer, *maxConns, *backlog, *nagle, w, *workEvery, *msgSize}
}

var (
	durationPattern = regexp.MustCompile(`^([0-9.]+)(ns|us|µs|ms|s|m|min)$`)
	bytesPattern    = regexp.MustCompile(`^([0-9]+)(|B|K|KiB|k|M|MiB|G|GiB)$`)
)

// parseDuration reads `250us`, `1.5ms`, `10s`, `2m`, as crates/common/src/units.rs does.
func parseDuration(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("'%s' is not a duration: write e.g. 500us, 1ms, 10s", s)
	}
	value, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' does not start with a number", s)
	}
	scale := map[string]float64{"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "min": 60e9}[m[2]]
	ns := value * scale
	if ns > math.MaxInt64 {
		return 0, fmt.Errorf("'%s' is too long", s)
	}
	return time.Duration(ns), nil
}

// parseBytes reads `64`, `16KiB`, `1MiB` in binary multiples, as crates/common/src/units.rs does.
func parseBytes(s string) (int64, error) {
	m := bytesPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("'%s' is not a byte count: write e.g. 64, 16KiB, 1MiB", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("'%s' is too large", s)
	}
	scale := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KiB": 1 << 10, "k": 1 << 10,
		"M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}[m[2]]
	return n * scale, nil
}
