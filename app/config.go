package app

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// Config is the service's configuration as files and the environment write
// it. Keys are snake_case; durations are strings such as "30s" or "1m30s".
// Zero values mean the documented default.
type Config struct {
	// Pool configures the new pool (see pool.PoolConfig for each field).
	Pool PoolSection `koanf:"pool"`
	// Legacy configures the legacy pool.
	Legacy LegacySection `koanf:"legacy"`
	// Flags configures the feature-flag file.
	Flags FlagsSection `koanf:"flags"`
	// Router configures the migration router.
	Router RouterSection `koanf:"router"`
	// Admin configures the admin HTTP server.
	Admin AdminSection `koanf:"admin"`
	// Lifecycle bounds start-up and shutdown.
	Lifecycle LifecycleSection `koanf:"lifecycle"`
	// Targets are SSH targets registered under their keys.
	Targets map[string]TargetSection `koanf:"targets"`
}

// PoolSection mirrors pool.PoolConfig with file-friendly names: each field
// has the unit, default and zero meaning documented on the pool.PoolConfig
// field of the same name. Durations are strings such as "30s".
type PoolSection struct {
	MaxConnections           int           `koanf:"max_connections"`
	MaxConnectionsPerKey     int           `koanf:"max_connections_per_key"`
	MaxSessionsPerConnection int           `koanf:"max_sessions_per_connection"`
	WaitTimeout              time.Duration `koanf:"wait_timeout"`
	DialTimeout              time.Duration `koanf:"dial_timeout"`
	MaxLifetime              time.Duration `koanf:"max_lifetime"`
	LifetimeJitter           time.Duration `koanf:"lifetime_jitter"`
	MaxIdleTime              time.Duration `koanf:"max_idle_time"`
	HealthInterval           time.Duration `koanf:"health_interval"`
	HealthTimeout            time.Duration `koanf:"health_timeout"`
	CleanupInterval          time.Duration `koanf:"cleanup_interval"`
	LeakThreshold            time.Duration `koanf:"leak_threshold"`
	WarmupKeys               []string      `koanf:"warmup_keys"`
	WarmupConnections        int           `koanf:"warmup_connections"`
	// LoadBalancing is least-loaded (default), round-robin or power-of-two.
	LoadBalancing string `koanf:"load_balancing"`
	MaxRetries    int    `koanf:"max_retries"`
	HistorySize   int    `koanf:"history_size"`
	// CircuitThreshold, CircuitBaseCooldown, CircuitCooldown, DebugLeaks,
	// WarmupBackoffMax and CircuitAuthCooldown are
	// pool.AdvancedPoolConfig's fields of the same names.
	CircuitThreshold    int           `koanf:"circuit_threshold"`
	CircuitBaseCooldown time.Duration `koanf:"circuit_base_cooldown"`
	CircuitCooldown     time.Duration `koanf:"circuit_cooldown"`
	DebugLeaks          bool          `koanf:"debug_leaks"`
	WarmupBackoffMax    time.Duration `koanf:"warmup_backoff_max"`
	CircuitAuthCooldown time.Duration `koanf:"circuit_auth_cooldown"`
}

// LegacySection configures the legacy pool, and the deadlines of every
// call through the old API, on both pools (legacy pool, adapter, router);
// zero keeps the defaults (30 s health ticker, stale sweep every 5 min, 5 min
// command timeout, 30 s dial timeout).
type LegacySection struct {
	// HealthInterval is the legacy health ticker's period; zero means 30 s,
	// negative disables it.
	HealthInterval time.Duration `koanf:"health_interval"`
	// StaleInterval and StaleMaxAge drive the stale sweep; zero means
	// a sweep every 5 min of connections unused for 15 min, a negative
	// interval disables the sweep.
	StaleInterval time.Duration `koanf:"stale_interval"`
	StaleMaxAge   time.Duration `koanf:"stale_max_age"`
	// CommandTimeout bounds every old-API command, whichever pool serves it
	// (the old API has no context); zero means 5 min
	// (legacy.DefaultCommandTimeout). There is no unbounded setting.
	CommandTimeout time.Duration `koanf:"command_timeout"`
	// DialTimeout bounds each legacy dial and each wait for a new-pool
	// lease of an old-API call; zero means 30 s (legacy.DefaultDialTimeout).
	DialTimeout time.Duration `koanf:"dial_timeout"`
}

// FlagsSection configures the flag file (flagd format).
type FlagsSection struct {
	// File is the flag file; empty routes every call to legacy.
	File string `koanf:"file"`
	// KillSwitchEnv names the variable overriding kill-switch; default
	// SSHPOOL_KILL_SWITCH, "-" disables the override.
	KillSwitchEnv string `koanf:"kill_switch_env"`
	// PollInterval adds polling to file watching; zero means none.
	PollInterval time.Duration `koanf:"poll_interval"`
	// Debounce is the quiet time before a reload; zero means 100 ms.
	Debounce time.Duration `koanf:"debounce"`
	// MaxBytes caps the flag file's size in bytes: a larger file is not
	// read and the flags stay as they are. Zero means 4 MiB
	// (featureflags.DefaultMaxDocumentBytes).
	MaxBytes int64 `koanf:"max_bytes"`
	// Source is where the document comes from: "file" (default, File) or
	// "etcd" (Etcd, one document for a fleet; see WithFlagSource).
	Source string `koanf:"source"`
	// Etcd configures the etcd source.
	Etcd EtcdSection `koanf:"etcd"`
}

// RouterSection configures the migration router.
type RouterSection struct {
	// DecisionCache is how long a connection may reuse its last routing
	// decision; a flag reload (a provider event) invalidates every cached
	// decision at once, so the ttl only bounds staleness when an event is
	// missed. Default DefaultDecisionCache (1 s): a decision then costs
	// ~0.1–0.4 µs instead of 3–8 µs through the OpenFeature SDK. Zero
	// evaluates the flags on every call.
	DecisionCache time.Duration `koanf:"decision_cache"`
	// KeepIdleOnChange keeps the losing pool's idle connection on a flip.
	KeepIdleOnChange bool `koanf:"keep_idle_on_change"`
}

// AdminSection configures the admin HTTP server.
type AdminSection struct {
	// Addr is the listen address; default DefaultAdminAddr
	// (127.0.0.1:17022), "off" disables the server. Use port 0 for a free
	// port (tests, several instances on one host).
	Addr string `koanf:"addr"`
	// Pprof serves Go's profiles under /debug/pprof/; default false.
	// Profiles reveal memory contents and a CPU profile costs CPU: turn
	// it on where the admin address is reachable only by operators.
	Pprof bool `koanf:"pprof"`
}

// LifecycleSection bounds start-up and shutdown.
//
// StartTimeout and StopTimeout are the timeouts of the fx application that
// `sshpool serve` builds. Module does not set them: in a host's fx
// application they are the host's (fx.StartTimeout, fx.StopTimeout, both
// 15 s by default in fx). Recommended: a start timeout of at least
// pool.dial_timeout plus 5 s when pool.warmup_keys are set (warm-up dials
// before OnStart returns; 20 s with the default 15 s dial timeout), and a
// stop timeout of at least drain_timeout plus 5 s, so that the pool's
// drain ends before the host's deadline cuts the other OnStop hooks (15 s
// with the default 10 s drain).
type LifecycleSection struct {
	// StartTimeout bounds serve's OnStart hooks; default 20s.
	StartTimeout time.Duration `koanf:"start_timeout"`
	// StopTimeout bounds serve's OnStop hooks; default 15s.
	StopTimeout time.Duration `koanf:"stop_timeout"`
	// DrainTimeout bounds the graceful drain at stop, within StopTimeout:
	// the old API's commands in flight and the new pool's leases, both
	// pools together, under one deadline; default 10s.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
}

// TargetSection is one SSH target. Password is a secret: it is never
// exported; prefer PasswordEnv, which names a variable read at dial time.
type TargetSection struct {
	// Host is the host name or address (required); Port defaults to 22.
	Host string `koanf:"host"`
	Port int    `koanf:"port"`
	// User is the remote user.
	User string `koanf:"user"`
	// IdentityFiles are private key files, tried in order.
	IdentityFiles []string `koanf:"identity_files"`
	// KnownHosts are known_hosts files; host keys are always verified.
	KnownHosts []string `koanf:"known_hosts"`
	// Agent enables keys from $SSH_AUTH_SOCK.
	Agent bool `koanf:"agent"`
	// PasswordEnv names a variable holding the password, read at dial time
	// (sshconn.Auth.PasswordEnv: unset or empty, it fails the dial with an
	// error naming it).
	PasswordEnv string `koanf:"password_env"`
	// Password is the password itself (a secret: redacted on export).
	Password string `koanf:"password"`
}

// Defaults of the non-pool sections.
const (
	// DefaultAdminAddr is the admin server's address: loopback only, on a
	// fixed port so that it can be scraped and probed. 17022 lies outside
	// the Prometheus exporters' range (9100–9999, fully allocated) and
	// below Linux's ephemeral ports (32768 and up), so an outgoing
	// connection never holds it.
	DefaultAdminAddr     = "127.0.0.1:17022"
	DefaultStartTimeout  = 20 * time.Second
	DefaultStopTimeout   = 15 * time.Second
	DefaultDrainTimeout  = 10 * time.Second
	DefaultDecisionCache = time.Second
	DefaultKillSwitchEnv = "SSHPOOL_KILL_SWITCH"
	// AdminOff as Admin.Addr disables the admin server.
	AdminOff = "off"
)

// Presets lists the names Defaults accepts besides "" (pool defaults).
func Presets() []string {
	return []string{"development", "production", "high-throughput", "low-memory"}
}

// Defaults returns the default configuration with the pool section taken
// from preset ("" for pool defaults, or one of Presets).
func Defaults(preset string) (Config, error) {
	pc, err := presetPool(preset)
	if err != nil {
		return Config{}, err
	}
	pc.SetDefaults()
	return Config{
		Pool:      poolSection(pc),
		Flags:     FlagsSection{KillSwitchEnv: DefaultKillSwitchEnv},
		Admin:     AdminSection{Addr: DefaultAdminAddr},
		Router:    RouterSection{DecisionCache: DefaultDecisionCache},
		Legacy:    LegacySection{CommandTimeout: legacy.DefaultCommandTimeout, DialTimeout: legacy.DefaultDialTimeout},
		Lifecycle: LifecycleSection{DefaultStartTimeout, DefaultStopTimeout, DefaultDrainTimeout},
	}, nil
}

func presetPool(name string) (pool.PoolConfig, error) {
	switch name {
	case "":
		return pool.PoolConfig{}, nil
	case "development":
		return pool.DevelopmentConfig(), nil
	case "production":
		return pool.ProductionConfig(), nil
	case "high-throughput":
		return pool.HighThroughputConfig(), nil
	case "low-memory":
		return pool.LowMemoryConfig(), nil
	}
	return pool.PoolConfig{}, fmt.Errorf("config: unknown preset %q, want one of %v", name, Presets())
}

func poolSection(c pool.PoolConfig) PoolSection {
	return PoolSection{
		c.MaxConnections, c.MaxConnectionsPerKey, c.MaxSessionsPerConnection,
		c.WaitTimeout, c.DialTimeout, c.MaxLifetime, c.LifetimeJitter, c.MaxIdleTime,
		c.HealthInterval, c.HealthTimeout, c.CleanupInterval, c.LeakThreshold,
		c.WarmupKeys, c.WarmupConnections, string(c.LoadBalancing), c.MaxRetries, c.HistorySize,
		c.Advanced.CircuitThreshold, c.Advanced.CircuitBaseCooldown, c.Advanced.CircuitCooldown, c.Advanced.DebugLeaks,
		c.Advanced.WarmupBackoffMax, c.Advanced.CircuitAuthCooldown,
	}
}

// PoolConfig converts the pool section to a pool.PoolConfig (defaults not
// applied, not validated: Config.Validate names a bad value by its key).
func (s PoolSection) PoolConfig() pool.PoolConfig {
	c := pool.PoolConfig{
		MaxConnections: s.MaxConnections, MaxConnectionsPerKey: s.MaxConnectionsPerKey,
		MaxSessionsPerConnection: s.MaxSessionsPerConnection, WaitTimeout: s.WaitTimeout,
		DialTimeout: s.DialTimeout, MaxLifetime: s.MaxLifetime, LifetimeJitter: s.LifetimeJitter,
		MaxIdleTime: s.MaxIdleTime, HealthInterval: s.HealthInterval, HealthTimeout: s.HealthTimeout,
		CleanupInterval: s.CleanupInterval, LeakThreshold: s.LeakThreshold, WarmupKeys: s.WarmupKeys,
		WarmupConnections: s.WarmupConnections, LoadBalancing: pool.LoadBalancing(s.LoadBalancing), MaxRetries: s.MaxRetries, HistorySize: s.HistorySize,
		Advanced: pool.AdvancedPoolConfig{CircuitThreshold: s.CircuitThreshold,
			CircuitBaseCooldown: s.CircuitBaseCooldown, CircuitCooldown: s.CircuitCooldown, DebugLeaks: s.DebugLeaks,
			WarmupBackoffMax: s.WarmupBackoffMax, CircuitAuthCooldown: s.CircuitAuthCooldown},
	}
	return c
}

// Validate checks every section and returns a *ConfigError listing every
// problem by config key (without sources: LoadWith adds them).
func (c Config) Validate() error {
	e := &ConfigError{Problems: c.problems()}
	return e.orNil()
}

// problems validates c: the pool section by pool.ValidatePoolConfigNamed
// (so its rules stay in one place, named by config key), then the rest.
func (c Config) problems() []Problem {
	e := &ConfigError{}
	for _, fe := range leaves(pool.ValidatePoolConfigNamed(c.Pool.PoolConfig(), poolKey)) {
		var f *pool.FieldError
		if errors.As(fe, &f) {
			e.Problems = append(e.Problems, Problem{Key: poolKey(f.Field), Value: formatValue(f.Value), Msg: "want " + f.Want})
		}
	}
	if c.Admin.Addr != AdminOff && c.Admin.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Addr); err != nil {
			e.add("admin.addr", inputfile.Excerpt(c.Admin.Addr, 0), `want host:port (127.0.0.1:9090, ":9090") or "off"`)
		}
	}
	if c.Flags.MaxBytes < 0 {
		e.add("flags.max_bytes", fmt.Sprint(c.Flags.MaxBytes), "want >= 0 (0 means 4 MiB)")
	}
	c.Flags.sourceProblems(e)
	c.Legacy.problems(e)
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"lifecycle.start_timeout", c.Lifecycle.StartTimeout}, {"lifecycle.stop_timeout", c.Lifecycle.StopTimeout}, {"lifecycle.drain_timeout", c.Lifecycle.DrainTimeout}} {
		if d.v <= 0 {
			e.add(d.key, d.v.String(), "want > 0")
		}
	}
	c.targetProblems(e)
	return e.Problems
}

// poolKey names a pool.PoolConfig field ("MaxConnections",
// "Advanced.CircuitCooldown", "WarmupKeys[2]") by its config key
// ("pool.max_connections"), from PoolSection's koanf tags; a field the
// file cannot set keeps its Go name.
func poolKey(goName string) string {
	name, index, _ := strings.Cut(goName, "[")
	name = strings.TrimPrefix(name, "Advanced.")
	f, ok := reflect.TypeFor[PoolSection]().FieldByName(name)
	if !ok {
		return goName
	}
	key := "pool." + f.Tag.Get("koanf")
	if index != "" {
		key += "." + strings.TrimSuffix(index, "]")
	}
	return key
}

// problems refuses negative timeouts and ones under 1ms (a unit mistake:
// "command_timeout: 30" is 30ns), naming the key.
func (l LegacySection) problems(e *ConfigError) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"legacy.command_timeout", l.CommandTimeout}, {"legacy.dial_timeout", l.DialTimeout}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Millisecond) {
			e.add(d.key, d.v.String(), "want at least 1ms, or 0 for the default")
		}
	}
}

func (c Config) targetProblems(e *ConfigError) {
	keys := make([]string, 0, len(c.Targets))
	for k := range c.Targets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := c.Targets[k]
		if t.Host == "" {
			e.add("targets."+k+".host", "", "is empty, want a host name or address")
		}
		if t.Port < 0 || t.Port > 65535 {
			e.add("targets."+k+".port", fmt.Sprint(t.Port), "want 0..65535 (0 = 22)")
		}
	}
}
