package pool

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
)

// lease is the handle Get returns: one slot on one pooled connection.
//
// A fresh lease is allocated per Get (one small allocation) rather than
// recycled: a recycled handle would let a stale reference, kept by a
// caller after Release, act on someone else's lease. With one handle per
// lease a double Release or use after Release is always detected.
type lease struct {
	p        *pool
	e        *poolEntry
	released atomic.Bool
	leaked   atomic.Bool // reported as held past LeakThreshold
	start    int64       // unix nanos at Get for a Release hook or LeakThreshold, else 0
	// 32 bytes: the Get's stack (DebugLeaks) lives in pool.stacks.
}

// newLease wraps a reserved slot on e.
func (p *pool) newLease(e *poolEntry) *lease {
	l := &lease{p: p, e: e}
	if p.stampLeases.Load() {
		l.start = p.nowNano()
		if p.trackLeases.Load() {
			p.leases.Store(l, struct{}{})
		}
	}
	return l
}

// release returns the slot. The first call wins; later calls are misuse.
func (l *lease) release() error {
	if !l.released.CompareAndSwap(false, true) {
		return l.p.misuse("Release", l.e.ks.name, ErrLeaseReleased)
	}
	p, e := l.p, l.e
	if l.start != 0 {
		p.leases.Delete(l)
		if p.debugLeaks.Load() {
			p.stacks.Delete(l)
		}
		if l.leaked.Load() {
			p.leakReleased(l)
		}
	}
	if t := p.tracer; t != nil && t.Release != nil {
		t.Release(ReleaseData{Key: e.ks.name, ConnID: e.id, Held: time.Duration(p.nowNano() - l.start)})
	}
	v := e.releaseSlot()
	if ctlDrained(v) {
		p.finish(e)
		return nil
	}
	idle := ctlIdle(v)
	if idle && p.overLimit.Load() {
		p.enforceLimits()
	}
	// Pairs with the ctlQueued set in addWaitingLocked and nStarved.Add in
	// roomLocked: either they see the freed slot or we see them.
	if v&ctlQueued != 0 || (idle && p.nStarved.Load() > 0) {
		p.serveAfterRelease(e.ks)
	}
	return nil
}

// serveAfterRelease hands freed capacity to waiters of ks and starved keys.
func (p *pool) serveAfterRelease(ks *keyState) {
	var fx effects
	p.mu.Lock()
	p.serveKeyLocked(ks, &fx)
	p.serveStarvedLocked(&fx)
	p.mu.Unlock()
	p.apply(&fx)
}

// use returns the connection's client, or ErrLeaseReleased.
func (l *lease) use(op string) (SSHClient, error) {
	if l.released.Load() {
		return nil, l.p.misuse(op, l.e.ks.name, ErrLeaseReleased)
	}
	return l.e.client, nil
}

// observe marks the connection unhealthy after a connection-level error.
func (l *lease) observe(err error) {
	if err != nil && failure.Classify(err).ConnectionFatal() {
		l.p.markUnhealthy(l.e, err)
	}
}

// Run runs cmd on the leased connection. See SSHClient.Run. A
// session-limit refusal is retried on this connection with the pool's
// retry policy (MaxRetries, RetryBackoff): servers free a closed session's
// slot asynchronously, so a lease can find its connection briefly full.
// (Found by TestSpecHundredGoroutines/sshd: OpenSSH 9.2 with MaxSessions
// 10 refused the 7th and 8th concurrent session while closed ones were
// still being reaped.)
func (l *lease) Run(ctx context.Context, cmd string) (Result, error) {
	return l.exec(ctx, "Run", Command{Cmd: cmd}, true)
}

// Exec runs a Command on the leased connection, retrying session-limit
// refusals as Run does. See SSHClient.Exec.
func (l *lease) Exec(ctx context.Context, cmd Command) (Result, error) {
	return l.exec(ctx, "Exec", cmd, true)
}

// exec runs cmd, retrying session-limit refusals when retry is set.
func (l *lease) exec(ctx context.Context, op string, cmd Command, retry bool) (Result, error) {
	c, err := l.use(op)
	if err != nil {
		return Result{}, err
	}
	p := l.p
	t := p.tracer
	var trace CommandData
	if t != nil {
		trace = CommandData{Key: l.e.ks.name, ConnID: l.e.id, Cmd: cmd.Cmd}
		if t.CommandStart != nil {
			ctx = t.CommandStart(ctx, trace)
		}
	}
	start := p.clock()
	res, err := c.Exec(ctx, cmd)
	if retry {
		res, err = p.retrySessionLimit(ctx, res, err, func() (Result, error) { return c.Exec(ctx, cmd) })
	}
	d := p.clock().Sub(start)
	p.stats.commandLatency.Observe(d)
	if err != nil {
		p.stats.commandErrors.Add(1)
	}
	l.observe(err)
	if t != nil && t.CommandEnd != nil {
		trace.Duration, trace.ExitStatus, trace.Err = d, res.ExitStatus, err
		t.CommandEnd(ctx, trace)
	}
	return res, err
}

// NewSession opens a raw session. Close the session before releasing the
// lease: the slot stands for it.
func (l *lease) NewSession(ctx context.Context) (*ssh.Session, error) {
	c, err := l.use("NewSession")
	if err != nil {
		return nil, err
	}
	s, err := c.NewSession(ctx)
	l.observe(err)
	return s, err
}

// DialContext opens a tunnel through the leased connection. Close the
// tunnel before releasing the lease.
func (l *lease) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := l.use("DialContext")
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, network, addr)
	l.observe(err)
	return conn, err
}

// SendKeepalive probes the leased connection.
func (l *lease) SendKeepalive(ctx context.Context) (time.Duration, error) {
	c, err := l.use("SendKeepalive")
	if err != nil {
		return 0, err
	}
	d, err := c.SendKeepalive(ctx)
	l.observe(err)
	return d, err
}

// Alive reports whether the lease is held and its connection is open.
func (l *lease) Alive() bool { return !l.released.Load() && l.e.client.Alive() }

// Done returns the connection's Done channel, also after release.
func (l *lease) Done() <-chan struct{} { return l.e.client.Done() }

// Err returns ErrLeaseReleased after release, else the connection's Err.
func (l *lease) Err() error {
	if l.released.Load() {
		return ErrLeaseReleased
	}
	return l.e.client.Err()
}

// Client returns the underlying *ssh.Client, or nil after release.
// Closing it closes the shared connection for every lease on it.
func (l *lease) Client() *ssh.Client {
	c, err := l.use("Client")
	if err != nil {
		return nil
	}
	return c.Client()
}

// RemoteAddr returns the server's address, or nil after release.
func (l *lease) RemoteAddr() net.Addr {
	if l.released.Load() {
		return nil
	}
	return l.e.client.RemoteAddr()
}

// Close releases the lease; it does NOT close the shared connection. A
// second Close returns ErrLeaseReleased.
func (l *lease) Close() error { return l.release() }

// String describes the lease for logs, without secrets.
func (l *lease) String() string {
	return fmt.Sprintf("pool.lease{key=%q conn=%d released=%t}", l.e.ks.name, l.e.id, l.released.Load())
}
