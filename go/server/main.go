// echo-go: the suite's TCP echo server in Go's own idiom: net.Listen, a goroutine per connection
// doing plain blocking reads and writes, which the runtime multiplexes over its netpoller (epoll)
// on GOMAXPROCS = --threads threads. Standard library only, but for SQLite (sqlite.go): Debian's
// build of github.com/mattn/go-sqlite3, found in GOPATH mode, since no Go module can be
// downloaded here.
//
// The same contract as every server of the suite (crates/common): the same flags, `listening on
// IP:PORT` first, TCP_NODELAY, a backlog of 4096, 16 KiB reads, the connection cap and its log
// line, and on SIGINT or SIGTERM: stop accepting, close every connection, print a one-line JSON
// summary with the same keys, exit 0.
//
//	scripts/setup.sh go && target/programs/echo-go --addr 127.0.0.1:0 [--work block:1ms] ...
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	target = "go"
	about  = "Go net.Listen, a goroutine per connection, GOMAXPROCS = --threads"

	// shutdownGrace is how long connections may take to close after the shutdown signal before
	// the server exits regardless (crates/common/src/server.rs: SHUTDOWN_GRACE).
	shutdownGrace = 5 * time.Second
	// acceptBackoff is the pause after a failed accept (out of descriptors, say), so that a
	// persistent failure cannot spin a core.
	acceptBackoff = 5 * time.Millisecond
	// exitUnavailable is the exit status for work this runtime does not do (sysexits'
	// EX_UNAVAILABLE), which loadgen reports as not measured.
	exitUnavailable = 69
)

// stats is what the server counts; connections add their bytes once, when they close.
type stats struct {
	accepted, closed, refused, bytes, errors, resetsByPeer atomic.Uint64
	active                                                 atomic.Int64
}

// server is the state every connection's goroutine shares.
type server struct {
	cfg      config
	stats    stats
	lag      *lag
	stop     chan struct{} // Closed at the shutdown signal.
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool
	done     sync.WaitGroup
	printed  sync.Once
}

func main() {
	// Set-up: flags, the work's data, the listener, the signals.
	cfg := parseConfig(about)
	if why := cfg.work.refusal(); why != "" {
		fmt.Fprintf(os.Stderr, "echo-go: --work %s is not measured: %s\n", cfg.work.kind, why)
		os.Exit(exitUnavailable)
	}
	runtime.GOMAXPROCS(cfg.threads)
	if err := cfg.work.prepare(); err != nil {
		fmt.Fprintf(os.Stderr, "echo-go: error: cannot prepare --work %s: %v\n", cfg.work.kind, err)
		os.Exit(1)
	}
	ln, err := listen(cfg.addr, cfg.backlog)
	if err != nil {
		cfg.work.remove()
		fmt.Fprintf(os.Stderr, "echo-go: error: cannot listen on %s: %v\n", cfg.addr, err)
		os.Exit(1)
	}
	s := &server{cfg: cfg, stop: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	s.lag = startLag(&s.stats.active, s.stop)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("listening on %s\n", ln.Addr())

	accepting := make(chan struct{})
	go func() {
		s.acceptLoop(ln)
		close(accepting)
	}()
	<-signals

	// Shutdown: stop accepting, close every connection, wait for their goroutines, report.
	go func() {
		second := <-signals
		fmt.Fprintln(os.Stderr, "second signal: exiting without waiting for connections to close")
		os.Exit(128 + int(second.(syscall.Signal)))
	}()
	go s.watchdog()
	close(s.stop)
	ln.Close()
	<-accepting
	s.mu.Lock()
	s.stopping = true
	for conn := range s.conns {
		conn.Close()
	}
	s.mu.Unlock()
	s.done.Wait()
	cfg.work.remove()
	s.printSummary()
}

// acceptLoop accepts until the listener is closed, admitting each connection under the cap.
func (s *server) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.stats.errors.Add(1)
			time.Sleep(acceptBackoff)
			continue
		}
		if !s.admit(conn) {
			continue
		}
		go s.serve(conn)
	}
}

// admit counts a new connection in and tracks it for shutdown, or turns it away at the cap.
func (s *server) admit(conn net.Conn) bool {
	if s.stats.active.Load() >= s.cfg.maxConnections {
		refused := s.stats.refused.Add(1)
		// Logged at 1, 2, 4, 8, ... so a flood of refusals cannot flood the log.
		if refused&(refused-1) == 0 {
			fmt.Fprintf(os.Stderr, "connection limit of %d reached: closed the new connection from %s "+
				"(%d turned away so far; raise --max-connections to allow more)\n",
				s.cfg.maxConnections, conn.RemoteAddr(), refused)
		}
		conn.Close()
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		conn.Close()
		return false
	}
	s.stats.active.Add(1)
	s.stats.accepted.Add(1)
	s.conns[conn] = struct{}{}
	s.done.Add(1)
	return true
}

// serve is one connection: read, do the work its completed messages are due, echo, repeat.
func (s *server) serve(conn net.Conn) {
	if s.cfg.nagle {
		conn.(*net.TCPConn).SetNoDelay(false) // Go sets TCP_NODELAY on every connection itself.
	}
	buf := make([]byte, s.cfg.buffer)
	framer := newFramer(s.cfg.msgSize, s.cfg.workEvery)
	echoed := uint64(0)
	var failure error
	for {
		n, err := conn.Read(buf)
		if n > 0 && s.cfg.work.kind != "none" {
			for due := framer.received(n); due > 0 && failure == nil; due-- {
				failure = s.cfg.work.run(s.stop)
			}
		}
		if n > 0 && failure == nil {
			_, failure = conn.Write(buf[:n])
			if failure == nil {
				echoed += uint64(n)
			}
		}
		if failure != nil || err != nil {
			if failure == nil && !errors.Is(err, io.EOF) {
				failure = err
			}
			break
		}
	}
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
	s.stats.bytes.Add(echoed)
	s.stats.closed.Add(1)
	switch {
	case failure == nil, errors.Is(failure, net.ErrClosed):
		// Ended by the peer's close, or by shutdown.
	case errors.Is(failure, syscall.ECONNRESET), errors.Is(failure, syscall.EPIPE),
		errors.Is(failure, syscall.ECONNABORTED):
		// The peer reset or went away: its doing, counted apart as the Rust servers do.
		s.stats.resetsByPeer.Add(1)
	default:
		s.stats.errors.Add(1)
	}
	s.stats.active.Add(-1)
	s.done.Done()
}

// watchdog exits shutdownGrace after the signal if connections are still open, so a connection
// stuck in long work cannot keep the process alive forever.
func (s *server) watchdog() {
	time.Sleep(shutdownGrace)
	fmt.Fprintf(os.Stderr, "%d connections still open %v after the shutdown signal; exiting anyway\n",
		s.stats.active.Load(), shutdownGrace)
	s.printSummary()
	os.Exit(0)
}

// printSummary prints the one-line JSON summary, once, whoever gets there first.
func (s *server) printSummary() {
	s.printed.Do(func() {
		summary := map[string]any{
			"target":         target,
			"accepted":       s.stats.accepted.Load(),
			"closed":         s.stats.closed.Load(),
			"refused":        s.stats.refused.Load(),
			"bytes_echoed":   s.stats.bytes.Load(),
			"errors":         s.stats.errors.Load(),
			"resets_by_peer": s.stats.resetsByPeer.Load(),
			"loop_lag_ns":    s.lag.summary(),
			"runtime":        runtime.Version(),
		}
		line, _ := json.Marshal(summary)
		os.Stdout.Write(append(line, '\n'))
	})
}
