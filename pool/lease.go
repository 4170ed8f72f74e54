package pool

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
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
	start    int64       // unix nanos at Get when tracing or tracking leases, else 0
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
	if p.tracer != nil {
		p.tracer.TraceRelease(ReleaseData{Key: e.ks.name, ConnID: e.id, Held: time.Duration(p.nowNano() - l.start)})
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
	if err != nil && Classify(err).ConnectionFatal() {
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
	if p.cmdTrc != nil {
		ctx = p.cmdTrc.TraceCommandStart(ctx, CommandStartData{Key: l.e.ks.name, ConnID: l.e.id, Cmd: cmd.Cmd})
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
	if p.cmdTrc != nil {
		p.cmdTrc.TraceCommandEnd(ctx, CommandEndData{Key: l.e.ks.name, ConnID: l.e.id, Duration: d,
			ExitStatus: res.ExitStatus, Err: err})
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

// Run implements Pool.
func (p *pool) Run(ctx context.Context, key, cmd string) (Result, error) {
	return p.Exec(ctx, key, Command{Cmd: cmd})
}

// Exec implements Pool: get, exec, release, retrying session-limit
// refusals with backoff on a fresh lease (which may land on a connection
// with more room).
//
// A connection-lost failure marked ErrNotStarted (the command never
// reached the server: the connection died while idle and nobody had
// noticed yet, as after a server host reboots) is retried on a fresh
// lease. The dead connection was marked unhealthy, so the retry lands on
// another connection or a new dial. At most MaxConnectionsPerKey such
// retries are made: a key cannot hold more connections that died unseen.
// A failure after the command started is never retried: it may have run.
func (p *pool) Exec(ctx context.Context, key string, c Command) (Result, error) {
	start := p.clock()
	res, err := p.execLimited(ctx, key, c)
	for n := 0; LostBeforeStart(err) && n < p.notStartedRetries(); n++ {
		p.stats.runRetries.Add(1)
		res, err = p.execLimited(ctx, key, c)
	}
	p.stats.runs.Add(1)
	p.stats.runNanos.Add(int64(p.clock().Sub(start)))
	if err != nil {
		p.stats.runErrors.Add(1)
	}
	return res, err
}

// execLimited is execOnce with session-limit retries on fresh leases.
func (p *pool) execLimited(ctx context.Context, key string, c Command) (Result, error) {
	res, err := p.execOnce(ctx, key, c)
	return p.retrySessionLimit(ctx, res, err, func() (Result, error) { return p.execOnce(ctx, key, c) })
}

// notStartedRetries returns how many not-started failures Exec retries.
func (p *pool) notStartedRetries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return NotStartedRetries(p.cfg)
}

// NotStartedRetries returns how many times Pool.Run and Pool.Exec run a
// command again after a failure before it started (LostBeforeStart) under
// cfg (defaults applied): MaxConnectionsPerKey, since a key cannot hold
// more connections that died unseen, or none when MaxRetries is negative.
// Callers that retry leases themselves (the legacy adapter) use it to
// follow the same rule.
func NotStartedRetries(cfg PoolConfig) int {
	if cfg.MaxRetries < 0 {
		return 0
	}
	return cfg.MaxConnectionsPerKey
}

// retrySessionLimit calls again while err is a session-limit refusal, up to
// MaxRetries times, pausing about attempt×RetryBackoff (with jitter) or
// until ctx ends.
func (p *pool) retrySessionLimit(ctx context.Context, res Result, err error, again func() (Result, error)) (Result, error) {
	if Classify(err) != KindSessionLimit {
		return res, err
	}
	retries, backoff := p.retryPolicy()
	for attempt := 1; attempt <= retries && Classify(err) == KindSessionLimit; attempt++ {
		if werr := sleepCtx(ctx, time.Duration(attempt)*backoff+randDuration(backoff)); werr != nil {
			return res, fmt.Errorf("pool: session-limit retry %d: %w (last: %w)", attempt, werr, err)
		}
		p.stats.sessionRetries.Add(1)
		res, err = again()
	}
	return res, err
}

// retryPolicy returns MaxRetries (0 when negative) and RetryBackoff.
func (p *pool) retryPolicy() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.cfg.MaxRetries, 0), p.cfg.Advanced.RetryBackoff
}

// execOnce leases a connection, runs c and releases the lease.
func (p *pool) execOnce(ctx context.Context, key string, c Command) (Result, error) {
	cl, err := p.Get(ctx, key)
	if err != nil {
		return Result{}, err
	}
	l := cl.(*lease)
	defer func() { _ = l.release() }() // cannot fail: l is ours and released once
	return l.exec(ctx, "Run", c, false)
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MarkUnhealthy implements Pool.
func (p *pool) MarkUnhealthy(client SSHClient, cause error) error {
	l, err := p.leaseOf("MarkUnhealthy", "", client)
	if err != nil {
		return err
	}
	if l.released.Load() {
		return p.misuse("MarkUnhealthy", l.e.ks.name, ErrLeaseReleased)
	}
	p.markUnhealthy(l.e, cause)
	return nil
}

// markUnhealthy retires e as unhealthy; it closes once its leases end.
func (p *pool) markUnhealthy(e *poolEntry, cause error) {
	p.hi.handleUnhealthyConnection(e, EventUnhealthy, cause)
}

// LeaseInfo describes one outstanding lease, for leak reports.
type LeaseInfo struct {
	Key    string        `json:"key"`     // the key
	ConnID uint64        `json:"conn_id"` // the connection's id
	Since  time.Time     `json:"since"`   // when the lease was taken
	Held   time.Duration `json:"held"`    // how long it has been held
}

// Leases implements Pool.
func (p *pool) Leases(minHeld time.Duration) []LeaseInfo {
	now := p.clock()
	var out []LeaseInfo
	p.leases.Range(func(k, _ any) bool {
		l := k.(*lease)
		if held := now.Sub(nanoTime(l.start)); held >= minHeld && !l.released.Load() {
			out = append(out, LeaseInfo{Key: l.e.ks.name, ConnID: l.e.id, Since: nanoTime(l.start), Held: held})
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Held > out[j].Held })
	return out
}
