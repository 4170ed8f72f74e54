//go:build linux

package sshconn

import (
	"net"
	"syscall"
)

// quickAckFunc returns a function that re-arms TCP_QUICKACK on c, or nil
// when c is not a TCP socket.
//
// Linux clears TCP_QUICKACK by itself, so it must be set again after every
// read and write. Without it, the first session on a fresh OpenSSH
// connection stalls ~40 ms in a Nagle/delayed-ACK interaction (measured in
// baselines.md: 49 ms first session, 7 ms with re-armed TCP_QUICKACK;
// regression benchmark BenchmarkFirstSession).
func quickAckFunc(c net.Conn) func() {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	set := func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	}
	return func() { _ = rc.Control(set) }
}
