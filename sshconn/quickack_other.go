//go:build !linux

package sshconn

import "net"

// quickAckFunc returns nil: TCP_QUICKACK exists only on Linux.
func quickAckFunc(net.Conn) func() { return nil }
