package legacy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// PooledConnection is one connection of the legacy pool: a dialed client for
// one (server, user), shared by every caller that asked for that key. It
// implements Connection.
//
// Commands run concurrently on it (SSH multiplexes sessions). Close closes
// the shared client at once, as the old pool did; the pool's own removals
// (RemoveConnection, stale sweep, health replacement) retire it instead:
// it leaves the map and is closed when its last command ends.
type PooledConnection struct {
	key     string
	server  Server
	asRoot  bool
	client  pool.SSHClient
	created time.Time
	cfg     *poolConfig
	stats   *poolStats // the pool's

	lastUsed    atomic.Int64 // UnixNano of the last command start
	lastCheck   atomic.Int64 // UnixNano of the last health check, 0 if none
	healthy     atomic.Bool
	lastErr     atomic.Pointer[string] // last health or command failure text
	commandsRun atomic.Int64

	// mu guards inUse, retired and closed, so that a command never starts
	// on a client that a retire is closing. Never held during I/O. Lock
	// order: ConnectionPool.mu before mu.
	mu      sync.Mutex
	inUse   int
	retired bool
	closed  bool
}

func newPooledConnection(key string, s *Server, asRoot bool, c pool.SSHClient, cfg *poolConfig, stats *poolStats) *PooledConnection {
	now := cfg.now()
	pc := &PooledConnection{key: key, server: *s, asRoot: asRoot, client: c, created: now, cfg: cfg, stats: stats}
	pc.lastUsed.Store(now.UnixNano())
	pc.healthy.Store(true)
	return pc
}

// Key returns the pool key, "host:port:id:root|app".
func (c *PooledConnection) Key() string { return c.key }

// Server returns a copy of the server the connection was made for.
func (c *PooledConnection) Server() Server { return c.server }

// AsRoot reports whether the connection logs in as the root user.
func (c *PooledConnection) AsRoot() bool { return c.asRoot }

// CreatedAt returns when the connection was dialed.
func (c *PooledConnection) CreatedAt() time.Time { return c.created }

// LastUsed returns when a command last started on the connection (or when
// it was dialed or handed out).
func (c *PooledConnection) LastUsed() time.Time { return time.Unix(0, c.lastUsed.Load()) }

// Client returns the underlying pool.SSHClient (for sftp and tunnels).
func (c *PooledConnection) Client() pool.SSHClient { return c.client }

// ExecuteCommand runs cmd and returns its combined standard output and
// standard error. A command that exits non-zero returns its output and a
// *CommandError wrapping *pool.ExitError. The pool's command timeout
// (WithCommandTimeout; none by default, as in the old pool) bounds it.
func (c *PooledConnection) ExecuteCommand(cmd string) (string, error) {
	ctx, cancel := c.cfg.commandContext(context.Background())
	defer cancel()
	return c.ExecuteCommandContext(ctx, cmd)
}

// ExecuteCommandContext is ExecuteCommand bounded by ctx.
func (c *PooledConnection) ExecuteCommandContext(ctx context.Context, cmd string) (string, error) {
	if err := c.begin(); err != nil {
		return "", &CommandError{Op: OpExec, Key: c.key, Cmd: cmd, Err: err}
	}
	defer c.end()
	start := time.Now()
	out, err := runCombined(ctx, c.client, c.key, cmd)
	c.stats.observeCommand(time.Since(start), err)
	c.noteResult(err)
	return out, err
}

// ExecuteCommandStream runs cmd and sends each line of its standard output
// on output as it arrives, blocking while output is full. It does not close
// output. It returns when the command has ended.
func (c *PooledConnection) ExecuteCommandStream(cmd string, output chan<- string) error {
	ctx, cancel := c.cfg.commandContext(context.Background())
	defer cancel()
	return c.ExecuteCommandStreamContext(ctx, cmd, output)
}

// ExecuteCommandStreamContext is ExecuteCommandStream bounded by ctx.
func (c *PooledConnection) ExecuteCommandStreamContext(ctx context.Context, cmd string, output chan<- string) error {
	if err := c.begin(); err != nil {
		return &CommandError{Op: OpStream, Key: c.key, Cmd: cmd, Err: err}
	}
	defer c.end()
	start := time.Now()
	err := runStream(ctx, c.client, c.key, cmd, output)
	c.stats.observeCommand(time.Since(start), err)
	c.noteResult(err)
	return err
}

// IsHealthy reports whether the connection is open and passed its last
// health check. It does no I/O.
func (c *PooledConnection) IsHealthy() bool {
	return c.healthy.Load() && c.client.Alive() && !c.isClosed()
}

// TestHealth runs the health command (WithHealthCommand, "true" by default)
// bounded by the health timeout, records the outcome and returns it. A
// failure marks the connection unhealthy for good: a later check that passes
// does not revive it, so the pool replaces it on the next
// GetOrCreateConnection however long that takes (a probe that outlived a
// stall used to hand the stalled connection out again).
func (c *PooledConnection) TestHealth() error {
	if err := c.beginProbe(); err != nil {
		c.markUnhealthy(err)
		return &CommandError{Op: OpHealth, Key: c.key, Cmd: c.cfg.healthCommand, Err: err}
	}
	defer c.end()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.healthTimeout)
	defer cancel()
	err := runHealth(ctx, c.client, c.key, c.cfg.healthCommand)
	c.stats.observeHealth(err)
	c.lastCheck.Store(c.cfg.now().UnixNano())
	if err != nil {
		c.markUnhealthy(err)
		return err
	}
	return nil
}

// Close closes the shared client at once, as the old pool did: commands in
// flight on it fail, and the pool replaces it on the next
// GetOrCreateConnection. It is idempotent.
func (c *PooledConnection) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if already {
		return nil
	}
	c.healthy.Store(false)
	return c.client.Close()
}

// Closed reports whether the connection has been closed (by Close or by the
// pool). A closed connection runs no more commands.
func (c *PooledConnection) Closed() bool { return c.isClosed() }

func (c *PooledConnection) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// begin registers a command start and updates LastUsed; it fails with
// ErrConnectionClosed once the connection is closed, before anything runs.
func (c *PooledConnection) begin() error {
	if err := c.beginProbe(); err != nil {
		return err
	}
	c.lastUsed.Store(c.cfg.now().UnixNano())
	return nil
}

// beginProbe is begin for health checks: it does not update LastUsed, so
// the health ticker does not keep stale connections alive.
func (c *PooledConnection) beginProbe() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrConnectionClosed
	}
	c.inUse++
	return nil
}

// end registers a command end and closes a retired connection that has
// become idle.
func (c *PooledConnection) end() {
	c.mu.Lock()
	c.inUse--
	closeNow := c.inUse == 0 && c.retired && !c.closed
	if closeNow {
		c.closed = true
	}
	c.mu.Unlock()
	if closeNow {
		c.client.Close()
	}
}

// retire marks the connection as removed from the pool and closes it now if
// no command is running, else when the last one ends.
func (c *PooledConnection) retire() {
	c.mu.Lock()
	c.retired = true
	closeNow := c.inUse == 0 && !c.closed
	if closeNow {
		c.closed = true
	}
	c.mu.Unlock()
	if closeNow {
		c.healthy.Store(false)
		c.client.Close()
	}
}

// claimIdle marks the connection retired and closed if no command is
// running, without closing the client (callers may hold the pool lock), and
// reports whether it did; the caller must then call closeClient.
func (c *PooledConnection) claimIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse != 0 || c.closed {
		return false
	}
	c.retired, c.closed = true, true
	return true
}

// closeClient closes the client of a connection claimed by claimIdle.
func (c *PooledConnection) closeClient() {
	c.healthy.Store(false)
	c.client.Close()
}

// usable reports whether GetOrCreateConnection may hand the connection out.
func (c *PooledConnection) usable() bool {
	return c.healthy.Load() && c.client.Alive() && !c.isClosed()
}

func (c *PooledConnection) inUseCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inUse
}

// noteResult records a command's outcome: a connection-fatal error marks the
// connection unhealthy so the pool replaces it.
func (c *PooledConnection) noteResult(err error) {
	c.commandsRun.Add(1)
	if err != nil && pool.Classify(err).ConnectionFatal() {
		c.markUnhealthy(err)
	}
}

// markUnhealthy records err and then marks the connection unhealthy, in
// that order, so that whoever sees it unhealthy also sees why.
func (c *PooledConnection) markUnhealthy(err error) {
	msg := err.Error()
	c.lastErr.Store(&msg)
	c.healthy.Store(false)
}

// status returns the connection's ConnectionStatus.
func (c *PooledConnection) status() ConnectionStatus {
	st := ConnectionStatus{
		Key: c.key, ServerID: c.server.ID, Host: c.server.Host, Port: c.server.EffectivePort(),
		User: c.server.User(c.asRoot), AsRoot: c.asRoot,
		Connected: c.client.Alive() && !c.isClosed(), Healthy: c.IsHealthy(),
		InUse: c.inUseCount(), CreatedAt: c.created, LastUsed: c.LastUsed(),
		Commands: c.commandsRun.Load(),
	}
	if t := c.lastCheck.Load(); t != 0 {
		st.LastHealthCheck = time.Unix(0, t)
	}
	if p := c.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}
