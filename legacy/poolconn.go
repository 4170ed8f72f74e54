package legacy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sshpool/sshpool/pool"
)

// errNotConnected is what a probe gets when the connection has no usable
// SSH connection; the health ticker does not re-establish connections.
var errNotConnected = errors.New("legacy: not connected")

// poolConn is a ConnectionPool's connection for one key: the backend of
// the *PooledConnection every holder of the key shares. It holds one SSH
// connection (a generation) at a time and re-establishes it in place when
// it died or failed a health check, so holders keep working across a
// server restart, as the old pool's manager reconnected in place.
type poolConn struct {
	p      *ConnectionPool
	pc     *PooledConnection
	key    string
	server Server // immutable: a Server with other settings gets a new poolConn
	asRoot bool
	stats  useStats
	dials  singleflight.Group // one (re)dial at a time

	// mu guards gen, inUse, dialing, retired, closed and every
	// generation's fields. It is never held during I/O. Lock order:
	// ConnectionPool.mu before mu.
	mu      sync.Mutex
	gen     *generation // nil until the first dial succeeds
	inUse   int         // commands running, over all generations
	dialing bool        // a (re)dial is in flight: not idle
	retired bool        // removed from the pool: close once idle
	closed  bool        // Close, or retired and idle: no more commands
}

// generation is one SSH connection a poolConn has had. A replaced
// generation is closed when its last command ends.
type generation struct {
	client  pool.SSHClient
	inUse   int
	bad     bool // failed a health check or lost its connection: replace at next use
	retired bool // replaced by a newer generation
	closed  bool
}

// usable reports whether commands may start on g. It does no I/O.
func (g *generation) usable() bool {
	return g != nil && !g.bad && !g.closed && g.client.Alive()
}

func newPoolConn(p *ConnectionPool, key string, s *Server, asRoot bool) *poolConn {
	c := &poolConn{p: p, key: key, server: *s, asRoot: asRoot}
	c.stats.init(p.cfg.now())
	c.pc = newPooledConnection(key, s, asRoot, c)
	return c
}

// with runs fn for op on the current SSH connection, re-establishing it
// first when it is not usable; it is the withFunc of this backend. It is
// registered with the pool's drainer (refused once Stop began).
func (c *poolConn) with(ctx context.Context, op string, fn clientOp) error {
	if !c.p.drain.begin() {
		return notStarted(ErrPoolStopped)
	}
	defer c.p.drain.end()
	if op != OpHealth {
		c.touch()
	}
	start := time.Now()
	err := c.run(ctx, op, true, fn)
	if op == OpExec || op == OpStream {
		c.p.stats.observeCommand(time.Since(start), err)
	}
	return err
}

// run runs fn for op on the current SSH connection, re-establishing it
// first when reconnect is set and it is not usable, bounded by the timeout
// of op and ctx, and retried as retryCommand says.
func (c *poolConn) run(ctx context.Context, op string, reconnect bool, fn clientOp) error {
	ctx, cancel := c.p.cfg.bound(ctx, op, time.Now())
	defer cancel()
	return retryCommand(ctx, reconnectLimit, func() error {
		g, err := c.acquire(ctx, reconnect)
		if err != nil {
			return err
		}
		err = fn.run(ctx, g.client)
		c.release(g, err, op == OpHealth)
		return err
	})
}

// acquire returns a usable generation with a command registered on it,
// re-establishing the connection when needed and allowed.
func (c *poolConn) acquire(ctx context.Context, reconnect bool) (*generation, error) {
	for attempt := 0; ; attempt++ {
		g, err := c.take()
		if g != nil || err != nil {
			return g, err
		}
		switch {
		case !reconnect:
			return nil, notStarted(errNotConnected)
		case attempt == 2:
			return nil, notStarted(fmt.Errorf("legacy: %s: connection ended as soon as it was made: %w", c.key, c.lastClientErr()))
		}
		if err := c.connect(ctx); err != nil {
			return nil, notStarted(err)
		}
	}
}

// take registers a command on the current generation if it is usable; it
// returns nil, nil when it is not, and ErrConnectionClosed after Close.
func (c *poolConn) take() (*generation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, notStarted(ErrConnectionClosed)
	}
	if g := c.gen; g.usable() {
		g.inUse++
		c.inUse++
		return g, nil
	}
	return nil, nil
}

// lastClientErr returns why the current generation's connection ended.
func (c *poolConn) lastClientErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != nil && c.gen.client.Err() != nil {
		return c.gen.client.Err()
	}
	return pool.ErrPoolClosed
}

// connect (re)dials the key through the pool, one dial at a time for all
// callers, and installs the new SSH connection. A caller whose ctx ends
// stops waiting; the dial goes on (bounded by the dial timeout) and its
// connection is installed for the next command.
func (c *poolConn) connect(ctx context.Context) error {
	ch := c.dials.DoChan("", func() (any, error) {
		c.setDialing(true)
		defer c.setDialing(false)
		client, err := c.p.dial(c.key, &c.server, c.asRoot)
		if err != nil {
			c.stats.fail(err)
			return nil, err
		}
		return nil, c.install(client)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setDialing marks a dial in flight, so that the stale sweep and
// RemoveIdleConnection leave the connection alone meanwhile.
func (c *poolConn) setDialing(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dialing = on
}

// install makes client the current generation and retires the previous
// one (closed now if idle, else when its last command ends).
func (c *poolConn) install(client pool.SSHClient) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		client.Close()
		return ErrConnectionClosed
	}
	old := c.gen
	c.gen = &generation{client: client}
	closeOld := old != nil && !old.closed && old.inUse == 0
	if old != nil {
		old.retired = true
		old.closed = old.closed || closeOld
	}
	c.mu.Unlock()
	c.stats.recovered()
	if closeOld {
		old.client.Close()
	}
	return nil
}

// release ends a command on g. A connection-fatal error, or a failed health
// check, marks g bad: the next command re-establishes the connection.
func (c *poolConn) release(g *generation, err error, health bool) {
	bad := err != nil && (health || classify(err).ConnectionFatal())
	c.mu.Lock()
	g.inUse--
	c.inUse--
	g.bad = g.bad || bad
	closeGen := g.retired && g.inUse == 0 && !g.closed
	g.closed = g.closed || closeGen
	var cur *generation
	if c.retired && c.inUse == 0 && !c.closed {
		c.closed = true
		cur = c.claimGenLocked()
	}
	c.mu.Unlock()
	if bad {
		c.stats.fail(err)
	}
	if closeGen {
		g.client.Close()
	}
	if cur != nil {
		cur.client.Close()
	}
}

// claimGenLocked marks the current generation closed and returns it for
// the caller to close outside the lock, or nil if there is none to close.
// c.mu must be held.
func (c *poolConn) claimGenLocked() *generation {
	g := c.gen
	if g == nil || g.closed {
		return nil
	}
	g.closed = true
	return g
}

// close closes the connection at once (PooledConnection.Close).
func (c *poolConn) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	g := c.claimGenLocked()
	c.mu.Unlock()
	if g != nil {
		return g.client.Close()
	}
	return nil
}

// retire marks the connection removed from the pool and closes it now if
// no command is running, else when the last one ends.
func (c *poolConn) retire() {
	c.mu.Lock()
	c.retired = true
	var g *generation
	if c.inUse == 0 && !c.closed {
		c.closed = true
		g = c.claimGenLocked()
	}
	c.mu.Unlock()
	if g != nil {
		g.client.Close()
	}
}

// claimIdle retires and closes the connection if no command is running,
// without closing the SSH connection (callers hold the pool lock): it
// returns whether it did and the generation the caller must close.
func (c *poolConn) claimIdle() (bool, *generation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse != 0 || c.dialing || c.closed {
		return false, nil
	}
	c.retired, c.closed = true, true
	return true, c.claimGenLocked()
}

func (c *poolConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// inUseCount returns the number of commands running on the connection.
func (c *poolConn) inUseCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inUse
}

// usable reports whether a command could start now without a dial.
func (c *poolConn) usable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.gen.usable()
}

func (c *poolConn) exec(ctx context.Context, cmd string) (string, error) {
	return execVia(ctx, c.with, c.key, cmd)
}

func (c *poolConn) stream(ctx context.Context, cmd string, out chan<- string) error {
	return streamVia(ctx, c.with, c.p.cfg, c.key, cmd, out, func(n int64) { c.stats.dropped.Add(n) })
}

func (c *poolConn) withClient(ctx context.Context, fn func(context.Context, pool.SSHClient) error) error {
	return clientVia(ctx, c.with, c.key, fn)
}

// testHealth runs the health check, re-establishing a dead connection
// first, and records its outcome.
func (c *poolConn) testHealth() error {
	start := c.p.cfg.now()
	err := healthVia(c.with, c.key, c.p.cfg.healthCommand)
	c.noteHealth(start, err)
	return err
}

// probe is the health ticker's check: on the current SSH connection only
// (a dead one waits for the next command to be re-established). It is the
// pool's own work, not a caller's: Stop does not wait for it but cancels
// it (ctx is the pool's).
func (c *poolConn) probe(ctx context.Context) {
	start := c.p.cfg.now()
	err := c.run(ctx, OpHealth, false, clientFunc(func(ctx context.Context, cl pool.SSHClient) error {
		_, err := cl.Run(ctx, c.p.cfg.healthCommand)
		return err
	}))
	if errors.Is(err, errNotConnected) || ctx.Err() != nil {
		return
	}
	if err != nil {
		err = &CommandError{Op: OpHealth, Key: c.key, Cmd: c.p.cfg.healthCommand, Err: err}
	}
	c.noteHealth(start, err)
}

func (c *poolConn) noteHealth(start time.Time, err error) {
	c.p.stats.observeHealth(err)
	now := c.p.cfg.now()
	if err != nil {
		c.stats.checked(now, 0)
		c.stats.fail(err)
		return
	}
	c.stats.checked(now, now.Sub(start))
	c.stats.recovered()
}

// isHealthy reports whether a command could start now, re-establishing a
// dead connection first (bounded by the dial timeout).
func (c *poolConn) isHealthy() bool {
	if c.usable() {
		return true
	}
	if c.isClosed() || c.p.drain.stopped() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.p.cfg.dialTimeout)
	defer cancel()
	return c.connect(ctx) == nil && c.usable()
}

func (c *poolConn) touch() { c.stats.touch(c.p.cfg.now()) }

func (c *poolConn) status() ConnectionHealthStatus {
	st := ConnectionHealthStatus{Pool: PoolLegacy}
	c.mu.Lock()
	st.Healthy = !c.closed && c.gen.usable()
	st.InUse = c.inUse
	c.mu.Unlock()
	c.stats.fill(&st, c.p.cfg.now())
	return st
}
