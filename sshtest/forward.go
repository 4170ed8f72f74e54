package sshtest

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// forwardDialTimeout bounds the dial of a direct-tcpip destination.
const forwardDialTimeout = 10 * time.Second

// directTCPIP is the extra data of a direct-tcpip channel open (RFC 4254 7.2).
type directTCPIP struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

// isLoopback reports whether host names a loopback address without a DNS
// lookup ("localhost" or a loopback IP).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveDirectTCPIP dials the requested loopback destination and proxies
// bytes both ways, propagating half-closes, until both directions have ended
// and the channel has closed.
func (c *serverConn) serveDirectTCPIP(ctx context.Context, nc ssh.NewChannel) {
	var req directTCPIP
	if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil || req.Port > 65535 {
		c.reject(nc, ssh.ConnectionFailed, "sshtest: malformed direct-tcpip request")
		return
	}
	if !isLoopback(req.Host) {
		c.reject(nc, ssh.Prohibited, "sshtest: only loopback destinations are allowed")
		return
	}
	target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	d := net.Dialer{Timeout: forwardDialTimeout}
	up, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		c.reject(nc, ssh.ConnectionFailed, "sshtest: "+err.Error())
		return
	}
	defer up.Close()
	ch, reqs, closed, err := c.accept(nc)
	if err != nil {
		return
	}
	defer closed()
	proxy(ch, reqs, up)
}

func proxy(ch ssh.Channel, reqs <-chan *ssh.Request, up net.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		ssh.DiscardRequests(reqs) // returns once the channel has closed
		up.Close()
	})
	var copies sync.WaitGroup
	copies.Go(func() {
		io.Copy(up, ch)
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	})
	io.Copy(ch, up)
	ch.CloseWrite()
	copies.Wait()
	ch.Close()
	wg.Wait()
}
