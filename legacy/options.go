package legacy

import (
	"context"
	"log/slog"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// Defaults of the legacy pool and the adapter. The first five are the old
// pool's; the timeouts are deliberate additions (the old pool had none).
const (
	// DefaultHealthInterval is how often the health ticker checks every
	// connection.
	DefaultHealthInterval = 30 * time.Second
	// DefaultHealthTimeout bounds one health check.
	DefaultHealthTimeout = 10 * time.Second
	// DefaultHealthCommand is the command a health check runs.
	DefaultHealthCommand = "true"
	// DefaultStaleInterval is how often the stale sweep runs.
	DefaultStaleInterval = 5 * time.Minute
	// DefaultStaleAge is how long a connection may go unused before the
	// stale sweep closes it (and ConnectionManager.CleanupConnections'
	// age).
	DefaultStaleAge = 15 * time.Minute
	// DefaultDialTimeout bounds one dial (TCP, handshake, authentication)
	// of the legacy pool, and the adapter's wait for a lease, dial
	// included: the old pool's 30 s connect timeout.
	DefaultDialTimeout = 30 * time.Second
	// DefaultCommandTimeout bounds every command, whichever pool serves it.
	// The old pool had no bound (a stalled server held its caller for
	// ever); it meant to give sessions five minutes (it set TMOUT=300,
	// which sshd does not accept by default), so five minutes it is.
	DefaultCommandTimeout = 5 * time.Minute
	// DefaultDrainTimeout bounds how long Stop lets running commands
	// finish before it cuts them.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultStreamLines and DefaultStreamIdle bound a stream's undelivered
	// lines (see ExecuteCommandStream); DefaultStreamBytes bounds their
	// bytes, whatever the line bound.
	DefaultStreamLines = 10000
	DefaultStreamBytes = 16 << 20
	DefaultStreamIdle  = time.Second
	// DefaultDialBackoff and DefaultDialBackoffMax are the legacy pool's
	// backoff after a failed dial of a key (see BackoffError).
	DefaultDialBackoff    = 50 * time.Millisecond
	DefaultDialBackoffMax = time.Second
)

// config is the configuration of a ConnectionPool or an Adapter, read-only
// once built. One Option type configures both, so that one set of options
// (the timeouts above all) applies to both pools; each option says which
// it affects, and the other ignores it.
type config struct {
	commandTimeout time.Duration
	dialTimeout    time.Duration
	drainTimeout   time.Duration
	healthCommand  string
	healthTimeout  time.Duration
	streamLines    int
	streamIdle     time.Duration
	logger         *slog.Logger
	now            func() time.Time

	// ConnectionPool only.
	factory          pool.ConnectionFactory
	registrar        registrars
	healthInterval   time.Duration
	staleInterval    time.Duration
	staleAge         time.Duration
	backoff, backMax time.Duration

	// Adapter only.
	dropIdle func(key string) bool
	cleanup  func(maxAge time.Duration) int
}

func newConfig(opts []Option) *config {
	cfg := &config{
		commandTimeout: DefaultCommandTimeout, dialTimeout: DefaultDialTimeout,
		drainTimeout: DefaultDrainTimeout, healthCommand: DefaultHealthCommand,
		healthTimeout: DefaultHealthTimeout, streamLines: DefaultStreamLines,
		streamIdle: DefaultStreamIdle, now: time.Now,
		healthInterval: DefaultHealthInterval, staleInterval: DefaultStaleInterval,
		staleAge: DefaultStaleAge, backoff: DefaultDialBackoff, backMax: DefaultDialBackoffMax,
	}
	for _, opt := range opts {
		opt(cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	return cfg
}

// bound derives the context of one operation starting at now from ctx:
// bounded by the health timeout for OpHealth, else by the command timeout.
// When ctx already ends no later, it is returned as it is, with a cancel
// that does nothing: a context derived from it would end at the same time
// and cost a timer, a Done channel and a registration with ctx per
// command.
func (c *config) bound(ctx context.Context, op string, now time.Time) (context.Context, context.CancelFunc) {
	end := now.Add(c.timeout(op))
	if cur, ok := ctx.Deadline(); ok && !cur.After(end) {
		return ctx, noCancel
	}
	return context.WithDeadline(ctx, end)
}

// timeout returns the bound of operation op: the health timeout for
// OpHealth, else the command timeout.
func (c *config) timeout(op string) time.Duration {
	if op == OpHealth {
		return c.healthTimeout
	}
	return c.commandTimeout
}

// noCancel is the cancel of a context that bound returned unchanged.
func noCancel() {}

// Option configures a ConnectionPool (NewConnectionPool) or an Adapter
// (NewAdapter); each option's documentation says which.
type Option func(*config)

// WithCommandTimeout bounds every command (ExecuteCommand,
// ExecuteCommandStream and their Context variants, whose ctx may end it
// sooner) of the pool or adapter. Default DefaultCommandTimeout (5 min); a
// non-positive value keeps the default: no command waits for ever.
// Pool and adapter.
func WithCommandTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.commandTimeout = d
		}
	}
}

// WithDialTimeout bounds each dial of the legacy pool, and each wait of the
// adapter for a lease of the new pool (dial included). Default
// DefaultDialTimeout (30 s); a non-positive value keeps the default. Pool
// and adapter.
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.dialTimeout = d
		}
	}
}

// WithDrainTimeout bounds how long Stop lets running commands finish before
// it cuts them (StopContext takes its bound from its context instead).
// Default DefaultDrainTimeout (10 s); a non-positive value keeps the
// default. Pool and adapter.
func WithDrainTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.drainTimeout = d
		}
	}
}

// WithHealthCheck sets the command TestHealth and the health ticker run and
// its timeout. Defaults DefaultHealthCommand and DefaultHealthTimeout; an
// empty command or a non-positive timeout keeps the default. Pool and
// adapter.
func WithHealthCheck(cmd string, timeout time.Duration) Option {
	return func(c *config) {
		if cmd != "" {
			c.healthCommand = cmd
		}
		if timeout > 0 {
			c.healthTimeout = timeout
		}
	}
}

// WithStreamBuffer bounds what ExecuteCommandStream holds for a reader that
// does not keep up: at most lines undelivered lines, and never more than
// DefaultStreamBytes (16 MiB) of them (beyond either bound lines are
// dropped, counted and logged), and, once the command has ended, at most
// idle without the reader taking a line before the rest is dropped.
// Defaults DefaultStreamLines and DefaultStreamIdle; non-positive values
// keep them. Pool and adapter.
func WithStreamBuffer(lines int, idle time.Duration) Option {
	return func(c *config) {
		if lines > 0 {
			c.streamLines = lines
		}
		if idle > 0 {
			c.streamIdle = idle
		}
	}
}

// WithLogger sets the logger for dropped stream lines, drains that cut
// commands, and (default dialer) host keys recorded on first use. Default
// slog.Default(). Pool and adapter.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithClock sets the clock of LastUsed, Age, stale ages and the dial
// backoff. Default time.Now. Tickers always use real (or synctest) time.
// Pool and adapter.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithFactory sets the factory the legacy pool dials keys
// "host:port:id:root|app" through. Default: a dialer of its own (package
// sshconn) that dials each Server's Target; with a factory of yours, add a
// registrar (WithRegistrar) that tells it the keys. Pool only.
func WithFactory(f pool.ConnectionFactory) Option {
	return func(c *config) { c.factory = f }
}

// WithRegistrar adds a TargetRegistrar the legacy pool calls before each
// dial, after the default dialer's own. Pool only.
func WithRegistrar(r TargetRegistrar) Option {
	return func(c *config) {
		if r != nil {
			c.registrar = append(c.registrar, r)
		}
	}
}

// WithHealthInterval sets how often the health ticker checks every
// connection. Default DefaultHealthInterval (30 s); zero or negative
// disables the ticker. Pool only.
func WithHealthInterval(d time.Duration) Option {
	return func(c *config) { c.healthInterval = d }
}

// WithStaleSweep sets how often the stale sweep runs and how long a
// connection may go unused before it closes it. Defaults 5 min and 15 min;
// a non-positive interval disables the sweep (CleanupStaleConnections still
// works), a non-positive age keeps the default. Pool only.
func WithStaleSweep(interval, maxAge time.Duration) Option {
	return func(c *config) {
		c.staleInterval = interval
		if maxAge > 0 {
			c.staleAge = maxAge
		}
	}
}

// WithDialBackoff sets the legacy pool's backoff after a failed dial of a
// key: first base, doubling per consecutive failure up to limit, with
// jitter (see BackoffError). Defaults DefaultDialBackoff and
// DefaultDialBackoffMax; non-positive values keep them. Pool only.
func WithDialBackoff(base, limit time.Duration) Option {
	return func(c *config) {
		if base > 0 {
			c.backoff = base
		}
		if limit > 0 {
			c.backMax = limit
		}
	}
}

// WithIdleDropper sets the hook the adapter's RemoveIdleConnection and
// RemoveConnection call to close a key's idle connections in the new pool
// (pool.Pool.DropIdle; the router calls RemoveIdleConnection when a key's
// traffic moves back to legacy). It runs on the caller's goroutine, must
// not block for long and must not call the adapter. Default none: the
// pool's idle cleanup closes them in its own time. Adapter only.
func WithIdleDropper(drop func(key string) bool) Option {
	return func(c *config) { c.dropIdle = drop }
}

// WithStaleCleanup sets the hook the adapter's CleanupStaleConnections
// calls (for example the new pool's idle cleanup), on the caller's
// goroutine. Default none. Adapter only.
func WithStaleCleanup(cleanup func(maxAge time.Duration) int) Option {
	return func(c *config) { c.cleanup = cleanup }
}
