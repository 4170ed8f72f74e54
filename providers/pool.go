package providers

import (
	"github.com/google/wire"

	"github.com/sshpool/sshpool/pool"
)

// HealthSet provides the pool's health monitor.
var HealthSet = wire.NewSet(NewHealthMonitor)

// NewHealthMonitor returns a per-key monitor with no key configured yet:
// every connection is probed with keepalive@openssh.com (want-reply) at
// the pool's HealthInterval, bounded by HealthTimeout.
func NewHealthMonitor() pool.HealthMonitor { return pool.NewPoolHealthMonitor(pool.HealthConfig{}) }

// PoolSet provides the new pool with its config, health monitor and tracer.
var PoolSet = wire.NewSet(NewPool)

// NewPool returns a pool over factory, or the validation error of an
// invalid cfg (pool.New), so that a bad configuration fails the graph's
// construction. It dials nothing (warm-up is the caller's Start); the
// cleanup closes the pool at once, which is a no-op after a graceful
// CloseContext.
func NewPool(factory pool.ConnectionFactory, cfg pool.PoolConfig, health pool.HealthMonitor,
	tracer *pool.Tracer) (pool.Pool, func(), error) {
	cfg.Advanced.HealthMonitor = health
	p, err := pool.New(factory, cfg, tracer)
	if err != nil {
		return nil, nil, err
	}
	return p, func() { p.Close() }, nil
}
