// The work done on a message before its echo (crates/common/src/work.rs), in Go's idiom for each
// kind. A goroutine is plain blocking code the runtime parks on its netpoller or timers, so most
// kinds are simply the blocking call; the ones that make no sense in Go are refused.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Why the offload kinds are not measured in Go, said by the server before it listens.
const (
	noOffload = "Go has no event loop to protect and nothing to offload to: a goroutine's " +
		"blocking call already leaves the other goroutines running"
)

// work is a `--work` spelling.
type work struct {
	kind     string
	duration time.Duration
	bytes    int64
	file     string    // The data file of the file-* kinds, once prepared.
	db       *database // The database of sqlite-block, once prepared.
}

func parseWork(spelling string) (work, error) {
	kind, arg, hasArg := strings.Cut(spelling, ":")
	w := work{kind: kind}
	fail := func(reason string) (work, error) {
		return w, fmt.Errorf("invalid work '%s': %s", spelling, reason)
	}
	var err error
	switch kind {
	case "sleep", "block", "offload", "cpu":
		if !hasArg {
			return fail("needs a duration")
		}
		if w.duration, err = parseDuration(arg); err != nil {
			return fail(err.Error())
		}
		if w.duration <= 0 {
			return fail("the duration must be more than zero")
		}
	case "file-block", "file-offload":
		if !hasArg {
			return fail("needs a size")
		}
		if w.bytes, err = parseBytes(arg); err != nil {
			return fail(err.Error())
		}
		if w.bytes == 0 {
			return fail("the size must be more than zero")
		}
	case "none", "sqlite-block", "sqlite-offload":
		if hasArg {
			return fail(kind + " takes no argument")
		}
	default:
		return fail(fmt.Sprintf("unknown kind '%s'", kind))
	}
	return w, nil
}

// refusal says why this server does not do the work, or "" if it does.
func (w *work) refusal() string {
	switch w.kind {
	case "offload", "file-offload", "sqlite-offload":
		return noOffload
	}
	return ""
}

var nextTemp atomic.Uint32

// prepare writes the data file the file-* kinds read, or builds sqlite-block's database, named as
// crates/common/src/work.rs names them.
func (w *work) prepare() (err error) {
	if w.kind == "sqlite-block" {
		w.db, err = createDatabase()
		return err
	}
	if w.kind != "file-block" {
		return nil
	}
	w.file = filepath.Join(os.TempDir(),
		fmt.Sprintf("echo-bench-%d-data-%d", os.Getpid(), nextTemp.Add(1)-1))
	f, err := os.Create(w.file)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{'e'}, 1<<20)
	for left := w.bytes; left > 0; left -= int64(len(chunk)) {
		if left < int64(len(chunk)) {
			chunk = chunk[:left]
		}
		if _, err := f.Write(chunk); err != nil {
			return err
		}
	}
	return f.Sync()
}

// remove deletes what prepare made.
func (w *work) remove() {
	if w.file != "" {
		os.Remove(w.file)
	}
	if w.db != nil {
		w.db.remove()
	}
}

// run does the work on the calling goroutine; `stop` ends a timer wait early at shutdown.
func (w *work) run(stop <-chan struct{}) error {
	switch w.kind {
	case "sleep":
		// Parks the goroutine on the runtime's timers; its thread runs other goroutines.
		timer := time.NewTimer(w.duration)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-stop:
		}
	case "block":
		// A raw system call the runtime cannot turn into a wait: the thread really sleeps in the
		// kernel, and the runtime hands its P (its right to run Go code) to another thread.
		ts := syscall.NsecToTimespec(w.duration.Nanoseconds())
		for {
			err := syscall.Nanosleep(&ts, &ts)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
	case "cpu":
		spin(w.duration)
	case "file-block":
		data, err := os.ReadFile(w.file)
		if err != nil {
			return err
		}
		if int64(len(data)) != w.bytes {
			return fmt.Errorf("read %d bytes of %s, expected %d", len(data), w.file, w.bytes)
		}
	case "sqlite-block":
		return w.db.query()
	}
	return nil
}

// spinSink keeps the busy loop's arithmetic from being optimised away.
var spinSink atomic.Uint64

// spin burns CPU for `d`. The runtime preempts it asynchronously (a signal every 10 ms or so),
// so other goroutines still get turns on the same P.
func spin(d time.Duration) {
	start := time.Now()
	x := uint64(0)
	for time.Since(start) < d {
		for i := uint64(0); i < 64; i++ {
			x = x*6364136223846793005 + i
		}
	}
	spinSink.Store(x)
}

// framer counts a connection's bytes into messages, to find the working ones (work.rs: Framer).
type framer struct {
	cycle, offset uint64
}

func newFramer(msgSize int, every uint64) framer {
	return framer{cycle: uint64(msgSize) * every}
}

// received takes n more bytes and returns how many working messages they complete.
func (f *framer) received(n int) uint64 {
	end := f.offset + uint64(n)
	f.offset = end % f.cycle
	return end / f.cycle
}
