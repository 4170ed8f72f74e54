package legacy

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sshpool/sshpool/pool"
)

// Package-level state: the singleton pool, its factory override and
// options, and the installed provider. This is the only package of the
// module allowed to have any.
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

// GetConnectionPool returns the singleton legacy pool, the old accessor. It
// works with no set-up: on first call it creates a pool that dials each
// Server's Target (agent, ManualKeyPath, ~/.ssh keys, ~/.ssh/known_hosts;
// see Server.Target) with the options of SetDefaultOptions; its loops start
// on first use.
//
// It is also the seam of the migration: while a provider is installed with
// Install (the router), the singleton's GetOrCreateConnection,
// GetConnectionStatus, CleanupStaleConnections, RemoveConnection and Stop
// are served by that provider, so old call sites follow the migration
// without edits, and old health endpoints report both pools. A router
// whose legacy route is this singleton uses it directly and never routes to
// itself.
func GetConnectionPool() *ConnectionPool {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultPool == nil {
		d := newDialer(nil)
		opts := append([]Option{WithFactory(singletonFactory{d}), WithRegistrar(d)}, defaultOpts...)
		defaultPool = NewConnectionPool(opts...)
		defaultPool.singleton = true
	}
	return defaultPool
}

// singletonFactory dials through the factory of SetDefaultFactory when one
// is set, else through the singleton's own dialer.
type singletonFactory struct{ d *dialer }

func (f singletonFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	if h := defaultFactory.Load(); h != nil && h.f != nil {
		return h.f.Dial(ctx, key)
	}
	return f.d.Dial(ctx, key)
}

// SetDefaultFactory makes the singleton dial through f instead of its own
// dialer (nil restores it). It may be called before or after
// GetConnectionPool: the singleton reads it at every dial. A factory of
// yours needs the keys registered: add a registrar with SetDefaultOptions.
func SetDefaultFactory(f pool.ConnectionFactory) {
	if f == nil {
		defaultFactory.Store(nil)
		return
	}
	defaultFactory.Store(&factoryHolder{f})
}

// SetDefaultOptions sets the options the singleton pool is built with. It
// affects only a singleton created afterwards (see ShutdownConnectionPool).
func SetDefaultOptions(opts ...Option) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	defaultOpts = append([]Option(nil), opts...)
}

// ShutdownConnectionPool stops the singleton pool, if one was created (not
// redirected to an installed provider), and forgets it: the next
// GetConnectionPool creates a new one.
func ShutdownConnectionPool() {
	defaultMu.Lock()
	p := defaultPool
	defaultPool = nil
	defaultMu.Unlock()
	if p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.drainTimeout)
		defer cancel()
		p.stopDirect(ctx) // the pool itself, not the installed provider
	}
}

// Install makes p serve the old call sites (GetConnectionPool's methods,
// GetConnectionManager, Provider) and returns a function that puts back
// the provider installed before. Install(nil) restores the default, the
// singleton serving itself. restore is idempotent; restores should run in
// reverse order of installs, as deferred calls do.
func Install(p ConnectionProvider) (restore func()) {
	var h *providerHolder
	if p != nil {
		h = &providerHolder{p}
	}
	prev := installed.Swap(h)
	var once sync.Once
	return func() { once.Do(func() { installed.Store(prev) }) }
}

// installedProvider returns the installed provider, or nil.
func installedProvider() ConnectionProvider {
	if h := installed.Load(); h != nil {
		return h.p
	}
	return nil
}

// Provider returns what old call sites are served by, as a value to inject
// where code takes a ConnectionProvider: the installed provider (typically
// the router), else the singleton pool.
func Provider() ConnectionProvider {
	if p := installedProvider(); p != nil {
		return p
	}
	return GetConnectionPool()
}
