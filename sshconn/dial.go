package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// dialer dials one Target (and its jump hosts) once, without retries.
type dialer struct {
	logger   *slog.Logger
	writer   *KnownHostsWriter
	quickAck bool
	resolver *net.Resolver // nil: the default resolver
	// knownHostsLimits and identityLimits bound the reads of known_hosts,
	// identity and certificate files.
	knownHostsLimits, identityLimits FileLimits
	maxOutput                        int64 // Client.outputLimit (WithMaxOutput)
	sessions                         int   // the server's session limit (WithServerMaxSessions)
}

// dial connects to t through its jump hosts, bounded by ctx and
// t.DialTimeout. On success the returned Client owns every hop and the
// agent socket.
func (d *dialer) dial(ctx context.Context, t Target) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, t.dialTimeout())
	defer cancel()
	chain, err := hopChain(t, nil)
	if err != nil {
		return nil, err
	}
	for i, h := range chain[1:] {
		if h.ProxyCommand != "" {
			return nil, &ConfigError{Key: t.Key, Err: fmt.Errorf("hop %d (%s) has a ProxyCommand: only the first hop may have one (ProxyCommand and ProxyJump exclude each other)", i+2, h.Addr())}
		}
	}
	ag := &agentHolder{logger: d.logger}
	var hops []*ssh.Client
	for i, h := range chain {
		c, err := d.dialHop(ctx, h, lastClient(hops), ag)
		if err != nil {
			closeAll(hops)
			ag.close()
			return nil, jumpContext(h, i < len(chain)-1, err)
		}
		hops = append(hops, c)
	}
	ag.release()
	c := newClient(t, hops, ag.conn)
	c.outputLimit = d.maxOutput
	c.gate.init(d.sessions, c.client.ServerVersion(), keepaliveFence(c.client))
	return c, nil
}

// hopChain flattens t's jump hosts (and theirs, recursively) into the order
// they are dialled, ending with t itself.
func hopChain(t Target, chain []Target) ([]Target, error) {
	if len(chain) > MaxJumpDepth {
		return nil, &ConfigError{Key: t.Key, Err: ErrJumpLoop}
	}
	var err error
	for _, j := range t.JumpHosts {
		if chain, err = hopChain(j, chain); err != nil {
			return nil, err
		}
	}
	t.JumpHosts = nil
	return append(chain, t), nil
}

func lastClient(hops []*ssh.Client) *ssh.Client {
	if len(hops) == 0 {
		return nil
	}
	return hops[len(hops)-1]
}

// closeAll closes clients last hop first.
func closeAll(hops []*ssh.Client) {
	for i := len(hops) - 1; i >= 0; i-- {
		_ = hops[i].Close()
	}
}

func jumpContext(hop Target, isJump bool, err error) error {
	if !isJump {
		return err
	}
	return fmt.Errorf("sshconn: jump host %s: %w", hop.Addr(), err)
}

// dialHop connects to t, directly or through via, and authenticates.
func (d *dialer) dialHop(ctx context.Context, t Target, via *ssh.Client, ag *agentHolder) (*ssh.Client, error) {
	hs, err := d.prepare(ctx, t, ag)
	if err != nil {
		return nil, err
	}
	raw, err := d.connect(ctx, t, via)
	var dnsErr *DNSError
	if errors.As(err, &dnsErr) {
		return nil, withCtx(ctx, err)
	}
	if err != nil {
		return nil, withCtx(ctx, fmt.Errorf("sshconn: connect %s: %w", t.Addr(), err))
	}
	conn := newTrackedConn(raw, d.quickAck)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.Addr(), hs.cfg)
	if !stop() {
		// The context's Close is running: wait for it (a ProxyCommand is
		// then killed and reaped) before reporting.
		_ = conn.Close()
		if err == nil {
			_ = c.Close()
		}
		return nil, withCtx(ctx, fmt.Errorf("sshconn: handshake with %s: %w", t.Addr(), errOr(err, io.ErrClosedPipe)))
	}
	if err != nil {
		if pc, ok := raw.(*proxyConn); ok {
			err = pc.failure(t.Addr(), err, proxyExitWait)
		}
		return nil, hs.classify(ctx, t, conn, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// withCtx makes err wrap ctx.Err() when ctx has ended, so errors.Is(err,
// context.Canceled) holds even when the transport reported something else.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", err, cerr)
	}
	return err
}

func (d *dialer) connect(ctx context.Context, t Target, via *ssh.Client) (net.Conn, error) {
	if via != nil {
		c, err := via.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, err
		}
		return &hopConn{Conn: c, remote: hopAddr(t)}, nil
	}
	if t.ProxyCommand != "" {
		return startProxyCommand(t)
	}
	nd := &net.Dialer{KeepAlive: orDefault(t.TCPKeepAlive, DefaultTCPKeepAlive), Resolver: d.resolver}
	c, err := nd.DialContext(ctx, "tcp", t.Addr())
	return c, dnsFailure(t, err)
}

// proxyExitWait is how long a failed handshake over a ProxyCommand waits
// for the command's exit status, to report it.
const proxyExitWait = 250 * time.Millisecond

// handshake holds one hop's client configuration and what its callbacks
// observed.
type handshake struct {
	cfg    *ssh.ClientConfig
	hostKs *hostKeyCheck

	// mu guards tried; AuthCallback runs on the handshaking goroutine but
	// classify may run after a cancellation on another path.
	mu    sync.Mutex
	tried []string
	auth  bool // authentication started (AuthCallback ran)
}

func (d *dialer) prepare(ctx context.Context, t Target, ag *agentHolder) (*handshake, error) {
	methods, err := authMethods(ctx, t, ag, d.identityLimits, d.logger)
	if err != nil {
		return nil, err
	}
	hk := &hostKeyCheck{target: t, writer: d.writer, logger: d.logger, limits: d.knownHostsLimits}
	algos := t.HostKeyAlgorithms
	if t.HostKey != HostKeyInsecure {
		if hk.kh, err = loadKnownHosts(ctx, t.knownHostsFiles(), d.knownHostsLimits); err != nil {
			return nil, err
		}
		if algos == nil {
			algos = hk.kh.algorithms(t.knownHostsName(t.Addr()))
		}
	}
	hs := &handshake{hostKs: hk}
	hs.cfg = &ssh.ClientConfig{
		User: t.User, Auth: methods, HostKeyCallback: hk.callback,
		HostKeyAlgorithms: algos, AuthCallback: hs.authCallback,
	}
	return hs, nil
}

// authCallback records the methods tried so far; it never picks a method
// (returning nil lets x/crypto walk cfg.Auth).
func (hs *handshake) authCallback(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.auth, hs.tried = true, ac.TriedMethods
	return nil, nil
}

// classify turns a failed handshake into a typed error: the host key
// error, the context's error, an *AuthError (host key verified,
// authentication ran, and the failure is not a transport error), or the
// transport error.
func (hs *handshake) classify(ctx context.Context, t Target, conn *trackedConn, err error) error {
	if _, hkErr := hs.hostKs.result(); hkErr != nil {
		return hkErr
	}
	if ctx.Err() != nil {
		return withCtx(ctx, fmt.Errorf("sshconn: handshake with %s: %w", t.Addr(), err))
	}
	verified, _ := hs.hostKs.result()
	hs.mu.Lock()
	authRan, tried := hs.auth, hs.tried
	hs.mu.Unlock()
	if verified && authRan && !conn.isTransportError(err) {
		return &AuthError{User: t.User, Addr: t.Addr(), Methods: tried, Err: err}
	}
	return fmt.Errorf("sshconn: handshake with %s: %w", t.Addr(), err)
}

// trackedConn records the first read or write error of the underlying
// connection, so that a handshake failure can be told apart from a
// transport failure by identity rather than by message, and re-arms
// TCP_QUICKACK after each of the connection's first quickAckOps reads and
// writes when enabled (see quickack_*.go).
type trackedConn struct {
	net.Conn
	quickAck     func()
	quickAckLeft atomic.Int32 // re-arms left
	ioErr        atomic.Pointer[error]
}

// quickAckOps is how many reads and writes re-arm TCP_QUICKACK: the
// handshake and authentication take about 55 against OpenSSH, a session
// about 7, so this covers the first dozen sessions. The delayed-ACK stall
// hits the first session on a connection; later sessions measured the same
// with and without re-arming (800 sequential commands each, interleaved,
// on OpenSSH 9.2: same p50, p90, p99), while re-arming costs a setsockopt
// per read and write, about a tenth of a command's client CPU against a
// fast server (BenchmarkCommand in bench/).
const quickAckOps = 128

func newTrackedConn(c net.Conn, quickAck bool) *trackedConn {
	tc := &trackedConn{Conn: c}
	if quickAck {
		tc.quickAck = quickAckFunc(c)
		tc.quickAckLeft.Store(quickAckOps)
	}
	return tc
}

// Read reads from the connection, recording errors.
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.after(err)
	return n, err
}

// Write writes to the connection, recording errors.
func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.after(err)
	return n, err
}

func (c *trackedConn) after(err error) {
	if err != nil {
		c.record(err)
		return
	}
	if c.quickAck != nil && c.quickAckLeft.Load() > 0 && c.quickAckLeft.Add(-1) >= 0 {
		c.quickAck()
	}
}

// record keeps err if it is the first error. It is apart from after so
// that only a failed read or write moves an error to the heap (taking
// &err in after allocated on every successful read and write).
func (c *trackedConn) record(err error) { c.ioErr.CompareAndSwap(nil, &err) }

// isTransportError reports whether err is (or wraps) an I/O error the
// connection itself returned.
func (c *trackedConn) isTransportError(err error) bool {
	p := c.ioErr.Load()
	if p == nil {
		return false
	}
	return errors.Is(err, *p) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// hopConn is a direct-tcpip channel to the next hop. x/crypto reports zero
// addresses for such channels; hopConn reports the hop's address instead,
// so Client.RemoteAddr names the final server.
type hopConn struct {
	net.Conn
	remote net.Addr
}

// RemoteAddr returns the hop's address.
func (c *hopConn) RemoteAddr() net.Addr { return c.remote }

func hopAddr(t Target) net.Addr {
	if ip := net.ParseIP(t.Host); ip != nil {
		return &net.TCPAddr{IP: ip, Port: portOr22(t.Port)}
	}
	return hostAddr(t.Addr())
}

// hostAddr is a "host:port" address whose host is a name.
type hostAddr string

// Network returns "tcp".
func (hostAddr) Network() string { return "tcp" }

// String returns "host:port".
func (a hostAddr) String() string { return string(a) }
