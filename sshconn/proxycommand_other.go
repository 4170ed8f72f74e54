//go:build !unix

package sshconn

import (
	"errors"
	"net"
	"time"
)

// startProxyCommand fails: ProxyCommand needs /bin/sh and process groups.
func startProxyCommand(t Target) (net.Conn, error) {
	return nil, &ProxyCommandError{Addr: t.Addr(), ExitStatus: -1, NotStarted: true, Err: errors.New("ProxyCommand is supported on Unix only")}
}

// proxyConn is never created outside Unix.
type proxyConn struct{ net.Conn }

func (c *proxyConn) failure(_ string, err error, _ time.Duration) error { return err }
