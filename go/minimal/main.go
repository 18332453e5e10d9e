// The leanest idiomatic Go echo server, the yardstick for echo-go in scripts/fidelity.sh: a
// goroutine per connection running io.Copy. Prints `listening on IP:PORT` first, as the suite's
// servers do, and takes only --addr and --threads (GOMAXPROCS).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7878", "address to listen on")
	threads := flag.Int("threads", runtime.NumCPU(), "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer conn.Close()
			io.Copy(conn, conn)
		}()
	}
}
