package app

import (
	"fmt"
	"sync/atomic"

	"github.com/sshpool/sshpool/pool"
)

// ConfigStore holds the configuration in force and reloads it. Each reload
// loads on a fresh koanf instance (deleted keys do not survive), validates,
// and only then swaps the config atomically: a bad file leaves the previous
// config in force.
type ConfigStore struct {
	opts LoadOptions
	cur  atomic.Pointer[Config]
}

// NewConfigStore returns a store holding initial, reloading from opts.
func NewConfigStore(initial Config, opts LoadOptions) *ConfigStore {
	s := &ConfigStore{opts: opts}
	s.cur.Store(&initial)
	return s
}

// Current returns the configuration in force.
func (s *ConfigStore) Current() Config { return *s.cur.Load() }

// Reload loads the configuration again. On success it becomes current and
// is returned; on error the current config is kept and the error (naming
// the field) returned.
func (s *ConfigStore) Reload() (Config, error) {
	c, err := LoadWith(s.opts)
	if err != nil {
		return s.Current(), err
	}
	s.cur.Store(&c)
	return c, nil
}

// ReloadResult is what ApplyPool did.
type ReloadResult struct {
	// InForce is the configuration now in force: the new pool section and,
	// for every other section, what the process started with.
	InForce Config
	// ConfigDiff is what the reload changed: the pool keys applied, the
	// keys pending a restart, and the pool's plan, taken just before the
	// pool section was applied. It logs as a group (slog.LogValuer).
	ConfigDiff
}

// ApplyPool reloads the configuration and applies its pool section to p
// (pool.UpdateConfig). Other sections take effect at the next start: the
// result lists them as Pending, and Current keeps their values in force. A
// bad config, or one the pool rejects, changes nothing. The result's
// ConfigDiff.Pool is the change's impact on p (pool.PlanConfigChange over
// p's connections just before it was applied): idle connections closed,
// busy ones over the new limits, sessions resized. An applied config
// may fix what made dials fail, so p's open circuits are rearmed
// (pool.Pool.RetryNow): the next call to a failing server dials at once.
func (s *ConfigStore) ApplyPool(p pool.Pool) (ReloadResult, error) {
	c, err := LoadWith(s.opts)
	if err != nil {
		return ReloadResult{InForce: s.Current()}, err
	}
	old := s.Current()
	d := DiffConfig(old, c, p.Entries())
	if err := p.UpdateConfig(c.Pool.PoolConfig()); err != nil {
		return ReloadResult{InForce: old}, fmt.Errorf("config: reload: %w", err)
	}
	inForce := old
	inForce.Pool = c.Pool
	s.cur.Store(&inForce)
	p.RetryNow()
	return ReloadResult{InForce: inForce, ConfigDiff: d}, nil
}
