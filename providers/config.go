package providers

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/google/wire"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// Config is the input of the component graph: everything the providers
// need, as plain values. Package app fills it from koanf; tests and the
// migration guide fill it by hand. The zero value is usable: a pool with
// defaults, a legacy pool with the old defaults, no flag file (every call
// goes to the legacy pool) and no registered targets.
type Config struct {
	// Pool configures the new pool; zero fields take pool defaults.
	Pool pool.PoolConfig
	// Legacy configures the old singleton-style pool.
	Legacy LegacyConfig
	// Flags configures the feature-flag provider.
	Flags FlagsConfig
	// Router configures the migration router.
	Router RouterConfig
	// Targets are registered in the sshconn registry under their keys
	// before anything dials.
	Targets map[string]sshconn.Target
	// Logger receives the pool's trace events and flag reload results; nil
	// discards them.
	Logger *slog.Logger
	// Observers adds tracing hooks (an OpenTelemetry tracer, say) to the
	// pool, the router and the flags; the zero value adds none.
	Observers Observers
}

// LegacyConfig configures the legacy pool (see package legacy). Zero
// values keep the old behaviour's defaults.
type LegacyConfig struct {
	// HealthInterval is the period of the legacy health ticker; zero means
	// legacy.DefaultHealthInterval (30 s), negative disables it.
	HealthInterval time.Duration
	// StaleInterval and StaleMaxAge configure the stale sweep; zero means
	// the legacy defaults (every 5 min, 15 min unused).
	StaleInterval, StaleMaxAge time.Duration
	// CommandTimeout bounds every command of the old API, on both pools
	// (legacy pool and adapter); zero means legacy.DefaultCommandTimeout
	// (5 min).
	CommandTimeout time.Duration
	// DialTimeout bounds each dial of the legacy pool and each wait of the
	// adapter for a lease (dial included); zero means
	// legacy.DefaultDialTimeout (30 s).
	DialTimeout time.Duration
	// DrainTimeout bounds how long Stop lets old-API commands finish on
	// either pool; zero means legacy.DefaultDrainTimeout (10 s).
	DrainTimeout time.Duration
}

// FlagsConfig configures the flag provider.
type FlagsConfig struct {
	// Source, when not nil, is the flag source (for example an etcd key,
	// built by the caller): the provider reads its documents instead of
	// Path's, with the same options and guarantees. Default nil.
	Source featureflags.Source
	// Path is a flagd-format flag file (JSON or YAML). Empty means no file:
	// an empty in-memory provider, so every call routes to legacy (counted
	// as a fallback).
	Path string
	// KillSwitchEnv names an environment variable that overrides the
	// kill-switch flag (featureflags.DefaultKillSwitchEnv is the
	// convention); empty means no override.
	KillSwitchEnv string
	// PollInterval adds a polling fallback to file watching; zero means none.
	PollInterval time.Duration
	// Debounce is the quiet time before a changed file is reloaded; zero
	// means featureflags.DefaultDebounce.
	Debounce time.Duration
	// MaxBytes caps the flag file's size in bytes; zero means
	// featureflags.DefaultMaxDocumentBytes (4 MiB).
	MaxBytes int64
}

// RouterConfig configures the migration router.
type RouterConfig struct {
	// DecisionCache lets each connection reuse its last decision until the
	// flag provider reports a change or this ttl passes; zero evaluates the
	// flags for every command.
	DecisionCache time.Duration
	// KeepIdleOnChange disables dropping the losing pool's idle connection
	// when a key's route changes (the default drops it).
	KeepIdleOnChange bool
}

// ConfigSet provides the parts of Config to the other sets.
var ConfigSet = wire.NewSet(
	NewPoolConfig,
	wire.FieldsOf(new(Config), "Legacy", "Flags", "Router", "Logger", "Observers"),
)

// NewPoolConfig returns cfg.Pool with defaults applied, or the validation
// error naming the bad field.
func NewPoolConfig(cfg Config) (pool.PoolConfig, error) {
	pc := cfg.Pool
	pc.SetDefaults()
	if err := pool.ValidatePoolConfig(pc); err != nil {
		return pool.PoolConfig{}, fmt.Errorf("providers: %w", err)
	}
	return pc, nil
}
