package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"

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

// ReloadResult is what ApplyPool did.
type ReloadResult struct {
	// InForce is the configuration now in force: the new pool section and,
	// for every other section, what the process started with.
	InForce Config
	// Applied lists the pool keys whose values changed ("pool.max_connections").
	Applied []string
	// Pending lists the keys of other sections that changed in the file;
	// they take effect at the next start.
	Pending []string
}

// ApplyPool reloads the configuration and applies its pool section to p
// (pool.UpdateConfig). Other sections take effect at the next start: the
// result lists them as Pending, and Current keeps their values in force. A
// bad config, or one the pool rejects, changes nothing. An applied config
// may fix what made dials fail, so p's open circuits are rearmed
// (pool.Pool.RetryNow): the next call to a failing server dials at once.
func (s *ConfigStore) ApplyPool(p pool.Pool) (ReloadResult, error) {
	c, err := LoadWith(s.opts)
	if err != nil {
		return ReloadResult{InForce: s.Current()}, err
	}
	pc, err := c.Pool.PoolConfig()
	if err == nil {
		err = p.UpdateConfig(pc)
	}
	if err != nil {
		return ReloadResult{InForce: s.Current()}, fmt.Errorf("config: reload: %w", err)
	}
	old := s.Current()
	inForce := old
	inForce.Pool = c.Pool
	r := ReloadResult{InForce: inForce}
	for _, key := range changedKeys(old, c) {
		if strings.HasPrefix(key, "pool.") {
			r.Applied = append(r.Applied, key)
		} else {
			r.Pending = append(r.Pending, key)
		}
	}
	s.cur.Store(&inForce)
	p.RetryNow()
	return r, nil
}

// changedKeys lists the keys whose values differ between a and b, sorted;
// values are compared, never reported (secrets stay out of logs).
func changedKeys(a, b Config) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for k, va := range fa {
		if vb, ok := fb[k]; !ok || fmt.Sprint(va) != fmt.Sprint(vb) {
			out = append(out, k)
		}
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// flatten returns c's values by config key.
func flatten(c Config) map[string]any {
	k := koanf.New(".")
	// A Config always loads: structs.Provider cannot fail on a struct.
	k.Load(structs.Provider(c, "koanf"), nil)
	return k.All()
}
