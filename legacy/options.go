package legacy

import (
	"context"
	"time"
)

// Defaults of the legacy pool, those of the old pool.
const (
	// DefaultHealthInterval is how often the health ticker checks every
	// connection.
	DefaultHealthInterval = 30 * time.Second
	// DefaultHealthTimeout bounds one health check.
	DefaultHealthTimeout = 10 * time.Second
	// DefaultHealthCommand is the command a health check runs.
	DefaultHealthCommand = "true"
	// DefaultStaleInterval is how often the stale sweep runs.
	DefaultStaleInterval = 15 * time.Minute
	// DefaultStaleAge is how long a connection may go unused before the
	// stale sweep closes it.
	DefaultStaleAge = 15 * time.Minute
	// DefaultDialTimeout bounds one dial (TCP, handshake, authentication).
	DefaultDialTimeout = 30 * time.Second
)

// poolConfig is a ConnectionPool's configuration; read-only after
// NewConnectionPool.
type poolConfig struct {
	healthInterval time.Duration
	healthTimeout  time.Duration
	healthCommand  string
	staleInterval  time.Duration
	staleAge       time.Duration
	dialTimeout    time.Duration
	commandTimeout time.Duration
	registrar      TargetRegistrar
	now            func() time.Time
}

func newPoolConfig(opts []Option) *poolConfig {
	cfg := &poolConfig{
		healthInterval: DefaultHealthInterval, healthTimeout: DefaultHealthTimeout,
		healthCommand: DefaultHealthCommand, staleInterval: DefaultStaleInterval,
		staleAge: DefaultStaleAge, dialTimeout: DefaultDialTimeout, now: time.Now,
	}
	for _, opt := range opts {
		opt(cfg)
	}
	return cfg
}

// commandContext derives the context of a command from parent: bounded by
// the command timeout when one is set.
func (c *poolConfig) commandContext(parent context.Context) (context.Context, context.CancelFunc) {
	if c.commandTimeout > 0 {
		return context.WithTimeout(parent, c.commandTimeout)
	}
	return context.WithCancel(parent)
}

// Option configures a ConnectionPool.
type Option func(*poolConfig)

// WithHealthInterval sets how often the health ticker checks every
// connection. Default DefaultHealthInterval (30 s); zero or negative
// disables the ticker.
func WithHealthInterval(d time.Duration) Option {
	return func(c *poolConfig) { c.healthInterval = d }
}

// WithHealthCheck sets the command a health check runs and its timeout.
// Defaults DefaultHealthCommand and DefaultHealthTimeout; an empty command
// or a non-positive timeout keeps the default.
func WithHealthCheck(cmd string, timeout time.Duration) Option {
	return func(c *poolConfig) {
		if cmd != "" {
			c.healthCommand = cmd
		}
		if timeout > 0 {
			c.healthTimeout = timeout
		}
	}
}

// WithStaleSweep sets how often the stale sweep runs and how long a
// connection may go unused before it closes it. Defaults 15 min and 15 min;
// a non-positive interval disables the sweep (CleanupStaleConnections still
// works), a non-positive age keeps the default.
func WithStaleSweep(interval, maxAge time.Duration) Option {
	return func(c *poolConfig) {
		c.staleInterval = interval
		if maxAge > 0 {
			c.staleAge = maxAge
		}
	}
}

// WithDialTimeout bounds each dial. Default DefaultDialTimeout (30 s); a
// non-positive value keeps the default.
func WithDialTimeout(d time.Duration) Option {
	return func(c *poolConfig) {
		if d > 0 {
			c.dialTimeout = d
		}
	}
}

// WithCommandTimeout bounds each ExecuteCommand and ExecuteCommandStream,
// which take no context. Default zero: no bound, as in the old pool.
func WithCommandTimeout(d time.Duration) Option {
	return func(c *poolConfig) { c.commandTimeout = d }
}

// WithRegistrar sets the TargetRegistrar called before each dial. Default
// none: the factory must already know the keys.
func WithRegistrar(r TargetRegistrar) Option {
	return func(c *poolConfig) { c.registrar = r }
}

// WithClock sets the clock used for LastUsed, CreatedAt and stale ages.
// Default time.Now. Tickers always use real (or synctest) time.
func WithClock(now func() time.Time) Option {
	return func(c *poolConfig) {
		if now != nil {
			c.now = now
		}
	}
}
