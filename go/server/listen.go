// The listening socket, set up as crates/common/src/listen.rs sets it up: SO_REUSEADDR and the
// configured backlog. net.Listen takes its backlog from net.core.somaxconn and offers no way to
// choose it, so the socket is made with system calls and then handed to the net package.

package main

import (
	"net"
	"os"
	"syscall"
)

func listen(addr *net.TCPAddr, backlog int) (net.Listener, error) {
	family, sockaddr := syscall.AF_INET, syscall.Sockaddr(nil)
	if ip4 := addr.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], ip4)
		sockaddr = sa
	} else {
		family = syscall.AF_INET6
		sa := &syscall.SockaddrInet6{Port: addr.Port}
		copy(sa.Addr[:], addr.IP.To16())
		sockaddr = sa
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	file := os.NewFile(uintptr(fd), "listener")
	defer file.Close() // net.FileListener holds its own duplicate.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return nil, os.NewSyscallError("setsockopt", err)
	}
	if err := syscall.Bind(fd, sockaddr); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	// The kernel silently caps this at net.core.somaxconn.
	if err := syscall.Listen(fd, backlog); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	return net.FileListener(file)
}
