package legacy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// Connection is what old call sites do with a connection. The legacy pool's
// *PooledConnection, the adapter's and the router's connections implement
// it, with the same output and the same *CommandError for the same
// situation.
type Connection interface {
	// ExecuteCommand runs cmd and returns its combined output.
	ExecuteCommand(cmd string) (string, error)
	// ExecuteCommandStream sends each line of cmd's standard output on out
	// as it arrives; it does not close out.
	ExecuteCommandStream(cmd string, out chan<- string) error
	// IsHealthy reports whether the connection can be used.
	IsHealthy() bool
	// TestHealth runs a health command and reports its failure.
	TestHealth() error
	// Close releases the connection.
	Close() error
}

// ContextConnection is a Connection with context-taking variants; every
// Connection in this package implements it.
type ContextConnection interface {
	Connection
	ExecuteCommandContext(ctx context.Context, cmd string) (string, error)
	ExecuteCommandStreamContext(ctx context.Context, cmd string, out chan<- string) error
}

// ConnectionProvider hands out connections the way the old pool did. The
// legacy pool, the adapter and the router implement it.
type ConnectionProvider interface {
	GetOrCreateConnection(server *Server, asRoot bool) (Connection, error)
}

// IdleDropper is implemented by providers that can drop a key's idle
// connection; the router calls it on the pool that lost a key's traffic.
type IdleDropper interface {
	RemoveIdleConnection(server *Server, asRoot bool) bool
}

// StatusReporter is implemented by providers that report per-key status.
type StatusReporter interface {
	GetConnectionStatus() map[string]ConnectionStatus
}

// StaleCleaner is implemented by providers that can close connections
// unused for longer than maxAge.
type StaleCleaner interface {
	CleanupStaleConnections(maxAge time.Duration) int
}

// Package-level state: the singleton pool and the installed provider. This
// is the only package of the module allowed to have any.
var (
	// defaultMu guards defaultPool and defaultOpts.
	defaultMu      sync.Mutex
	defaultPool    *ConnectionPool
	defaultOpts    []Option
	defaultFactory atomic.Pointer[factoryHolder]
	installed      atomic.Pointer[providerHolder]
)

type factoryHolder struct{ f pool.ConnectionFactory }

type providerHolder struct{ p ConnectionProvider }

// SetDefaultFactory sets the factory the singleton pool dials with. It may
// be called before or after GetConnectionPool: the singleton reads it at
// every dial. Until it is called, dials fail with ErrNoFactory.
func SetDefaultFactory(f pool.ConnectionFactory) {
	defaultFactory.Store(&factoryHolder{f})
}

// SetDefaultOptions sets the options the singleton pool is built with. It
// affects only a singleton created afterwards (see ShutdownConnectionPool).
func SetDefaultOptions(opts ...Option) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	defaultOpts = append([]Option(nil), opts...)
}

// dialDefault dials through the factory set with SetDefaultFactory.
func dialDefault(ctx context.Context, key string) (pool.SSHClient, error) {
	h := defaultFactory.Load()
	if h == nil || h.f == nil {
		return nil, ErrNoFactory
	}
	return h.f.Dial(ctx, key)
}

// GetConnectionPool returns the singleton legacy pool, the old accessor,
// creating it on first call with the default factory and options. While a
// provider is installed with Install, the singleton's GetOrCreateConnection
// is served by that provider (the router), so old call sites follow the
// migration without edits; its other methods (status, cleanup, Stop) still
// act on the legacy pool itself. A router whose legacy route is this
// singleton uses it directly and never routes to itself.
func GetConnectionPool() *ConnectionPool {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultPool == nil {
		defaultPool = NewConnectionPool(pool.ConnectionFactoryFunc(dialDefault), defaultOpts...)
		defaultPool.singleton = true
	}
	return defaultPool
}

// ShutdownConnectionPool stops the singleton pool, if one was created, and
// forgets it: the next GetConnectionPool creates a new one.
func ShutdownConnectionPool() {
	defaultMu.Lock()
	p := defaultPool
	defaultPool = nil
	defaultMu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Install makes p the provider returned by Provider and Current, and used
// by GetConnectionManager, and returns a function that puts back the
// provider installed before. Install(nil) restores the default (the legacy
// singleton). restore is idempotent; restores should run in reverse order
// of installs, as deferred calls do.
func Install(p ConnectionProvider) (restore func()) {
	var h *providerHolder
	if p != nil {
		h = &providerHolder{p}
	}
	prev := installed.Swap(h)
	var once sync.Once
	return func() { once.Do(func() { installed.Store(prev) }) }
}

// Current returns the installed provider, or nil if none is installed.
func Current() ConnectionProvider {
	if h := installed.Load(); h != nil {
		return h.p
	}
	return nil
}

// Provider returns the provider old call sites should use: the installed
// one (typically the router), else the legacy singleton pool. It replaces
// the old ssh.GetConnectionPool() at call sites that should follow the
// migration (see the package documentation).
func Provider() ConnectionProvider {
	if p := Current(); p != nil {
		return p
	}
	return GetConnectionPool()
}
