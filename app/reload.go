package app

import (
	"fmt"
	"os"
	"sync/atomic"

	"context"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// envPassword reads a password from the environment variable name at dial
// time; the error names the variable, never a value.
func envPassword(name string) sshconn.SecretSource {
	return sshconn.SecretFunc(func(context.Context, sshconn.Target) (sshconn.Secret, error) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return sshconn.Secret{}, fmt.Errorf("config: password_env %q is not set", name)
		}
		return sshconn.NewSecret(v), nil
	})
}

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

// ApplyPool reloads the configuration and applies its pool section to p
// (pool.UpdateConfig). Other sections take effect at the next start. A bad
// config, or one the pool rejects, changes nothing. An applied config may
// fix what made dials fail, so p's open circuits are rearmed
// (pool.Pool.RetryNow): the next call to a failing server dials at once.
func (s *ConfigStore) ApplyPool(p pool.Pool) (Config, error) {
	c, err := LoadWith(s.opts)
	if err != nil {
		return s.Current(), err
	}
	pc, err := c.Pool.PoolConfig()
	if err == nil {
		err = p.UpdateConfig(pc)
	}
	if err != nil {
		return s.Current(), fmt.Errorf("config: reload: %w", err)
	}
	s.cur.Store(&c)
	p.RetryNow()
	return c, nil
}
