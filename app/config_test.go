package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/pool"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := app.LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	var want pool.PoolConfig
	want.SetDefaults()
	if c.Pool.MaxConnections != want.MaxConnections || c.Pool.DialTimeout != want.DialTimeout ||
		c.Pool.LoadBalancing != "least-loaded" {
		t.Errorf("pool defaults: %+v", c.Pool)
	}
	if c.Admin.Addr != app.DefaultAdminAddr || c.Lifecycle.StopTimeout != app.DefaultStopTimeout ||
		c.Flags.KillSwitchEnv != app.DefaultKillSwitchEnv {
		t.Errorf("defaults: %+v", c)
	}
}

func TestLoadConfigPreset(t *testing.T) {
	c, err := app.LoadWith(app.LoadOptions{Preset: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Pool.MaxConnections != pool.ProductionConfig().MaxConnections {
		t.Errorf("production preset not applied: %+v", c.Pool)
	}
	if _, err := app.LoadWith(app.LoadOptions{Preset: "turbo"}); err == nil || !strings.Contains(err.Error(), "turbo") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestLoadConfigFileAndEnv(t *testing.T) {
	tests := []struct {
		name, file string
	}{
		{"c.yaml", "pool:\n  max_connections: 20\n  wait_timeout: 30s\n  warmup_keys: [a, b]\n  warmup_connections: 1\n" +
			"admin:\n  addr: 127.0.0.1:9999\ntargets:\n  web:\n    host: 10.0.0.1\n    user: deploy\n"},
		{"c.json", `{"pool": {"max_connections": 20, "wait_timeout": "30s", "warmup_keys": ["a", "b"], "warmup_connections": 1},
			"admin": {"addr": "127.0.0.1:9999"}, "targets": {"web": {"host": "10.0.0.1", "user": "deploy"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.file)
			c, err := app.LoadConfig(path, []string{"SSHPOOL_POOL__MAX_CONNECTIONS=50", "SSHPOOL_POOL__DIAL_TIMEOUT=2s",
				"SSHPOOL_KILL_SWITCH=true", "OTHER=1"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Pool.MaxConnections != 50 || c.Pool.DialTimeout != 2*time.Second || c.Pool.WaitTimeout != 30*time.Second {
				t.Errorf("env must override file: %+v", c.Pool)
			}
			if len(c.Pool.WarmupKeys) != 2 || c.Admin.Addr != "127.0.0.1:9999" || c.Targets["web"].User != "deploy" {
				t.Errorf("file values: %+v", c)
			}
		})
	}
}

func TestLoadConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "pool:\n  max_conections: 3\n", nil, "c.yaml:2: pool.max_conections = 3, unknown key (did you mean pool.max_connections?)"},
		{"unknown env key", "", []string{"SSHPOOL_POOL__BOGUS=1"}, `env SSHPOOL_POOL__BOGUS: pool.bogus = "1", unknown key`},
		// Before: "'app.Config' has invalid keys: foo", without the variable.
		{"stray env key", "pool:\n  max_connections: 3\n", []string{"HOME=/root", "SSHPOOL_FOO__BAR=1", "SSHPOOL_POOL__MAX_CONNECTIONS=5"},
			`env SSHPOOL_FOO__BAR: foo.bar = "1", unknown key`},
		{"env target key", "", []string{"SSHPOOL_TARGETS__WEB__HOSTNAME=h"}, `env SSHPOOL_TARGETS__WEB__HOSTNAME: targets.web.hostname = "h", unknown key (did you mean targets.web.host?)`},
		{"bad duration", "pool:\n  wait_timeout: soon\n", nil, "wait_timeout"},
		{"duration without unit", "pool:\n  max_lifetime: 30\n", nil, `pool.max_lifetime = 30, has no unit: write a duration such as "30s"`},
		{"env duration without unit", "", []string{"SSHPOOL_POOL__MAX_LIFETIME=30"}, "max_lifetime"},
		{"bad int", "", []string{"SSHPOOL_POOL__MAX_CONNECTIONS=many"}, "max_connections"},
		{"invalid value", "pool:\n  max_connections: -1\n", nil, "pool.max_connections = -1, want 1..1048576"},
		{"load balancing", "pool:\n  load_balancing: random\n", nil, "pool.load_balancing"},
		{"target host", "targets:\n  web:\n    user: x\n", nil, "targets.web.host"},
		{"admin addr", "admin:\n  addr: nope\n", nil, "admin.addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "c.yaml", tt.file)
			}
			_, err := app.LoadConfig(path, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error naming %q, got %v", tt.want, err)
			}
		})
	}
}

// TestLoadConfigCustomKillSwitchVariable: a kill-switch variable named by
// flags.kill_switch_env (in the file or the environment) belongs to the
// flag provider: setting it, SSHPOOL_ prefix or not, must not stop the
// load as a stray variable would, or flipping the kill switch would keep
// the service from starting.
func TestLoadConfigCustomKillSwitchVariable(t *testing.T) {
	path := writeFile(t, "c.yaml", "flags:\n  kill_switch_env: SSHPOOL_APP_KILL\n")
	c, err := app.LoadConfig(path, []string{"SSHPOOL_APP_KILL=true", "SSHPOOL_KILL_SWITCH=true"})
	if err != nil || c.Flags.KillSwitchEnv != "SSHPOOL_APP_KILL" {
		t.Fatalf("from the file: %q, %v", c.Flags.KillSwitchEnv, err)
	}
	c, err = app.LoadConfig(path, []string{"SSHPOOL_FLAGS__KILL_SWITCH_ENV=SSHPOOL_OPS_KILL", "SSHPOOL_OPS_KILL=1"})
	if err != nil || c.Flags.KillSwitchEnv != "SSHPOOL_OPS_KILL" {
		t.Fatalf("from the environment: %q, %v", c.Flags.KillSwitchEnv, err)
	}
	// A name with "__" would otherwise address a key: configured as the
	// kill switch it is skipped; not configured, it is an unknown key.
	c, err = app.LoadConfig(path, []string{"SSHPOOL_FLAGS__KILL_SWITCH_ENV=SSHPOOL_OPS__KILL", "SSHPOOL_OPS__KILL=1"})
	if err != nil || c.Flags.KillSwitchEnv != "SSHPOOL_OPS__KILL" {
		t.Fatalf("a configured kill switch with __: %q, %v", c.Flags.KillSwitchEnv, err)
	}
	if _, err := app.LoadConfig(path, []string{"SSHPOOL_OPS__KILL=1"}); err == nil || !strings.Contains(err.Error(), "SSHPOOL_OPS__KILL") {
		t.Errorf("a kill-switch-like variable that is not the configured one: %v, want an error naming it", err)
	}
}

// TestLoadConfigZeroDurationNeedsNoUnit: 0 means the same in any unit.
func TestLoadConfigZeroDurationNeedsNoUnit(t *testing.T) {
	c, err := app.LoadConfig(writeFile(t, "c.yaml", "pool:\n  max_lifetime: 0\n  wait_timeout: 2s\n"), nil)
	if err != nil || c.Pool.MaxLifetime != 0 || c.Pool.WaitTimeout != 2*time.Second {
		t.Fatalf("max_lifetime %v, wait_timeout %v, %v", c.Pool.MaxLifetime, c.Pool.WaitTimeout, err)
	}
}

func TestLoadConfigMissingFileAndFormat(t *testing.T) {
	if _, err := app.LoadConfig(filepath.Join(t.TempDir(), "none.yaml"), nil); err == nil {
		t.Error("missing file: want an error")
	}
	if _, err := app.LoadConfig(writeFile(t, "c.toml", "x = 1"), nil); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("toml: %v", err)
	}
}

// TestConfigCircuitAndLeakSettings: the breaker's threshold and cooldowns
// and DebugLeaks have defaults, load from file and environment, reach the
// pool config, are validated by pool.ValidatePoolConfig and are exported.
func TestConfigCircuitAndLeakSettings(t *testing.T) {
	c, err := app.LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	var def pool.PoolConfig
	def.SetDefaults()
	if d := def.Advanced; c.Pool.CircuitThreshold != d.CircuitThreshold || c.Pool.CircuitCooldown != d.CircuitCooldown ||
		c.Pool.CircuitBaseCooldown != d.CircuitBaseCooldown || c.Pool.DebugLeaks ||
		c.Pool.WarmupBackoffMax != d.WarmupBackoffMax || c.Pool.CircuitAuthCooldown != d.CircuitAuthCooldown {
		t.Errorf("defaults: %+v", c.Pool)
	}
	path := writeFile(t, "c.yaml", "pool:\n  circuit_threshold: 3\n  circuit_base_cooldown: 500ms\n  debug_leaks: true\n  warmup_backoff_max: 2m\n  circuit_auth_cooldown: -1s\n")
	c, err = app.LoadConfig(path, []string{"SSHPOOL_POOL__CIRCUIT_COOLDOWN=1m"})
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Pool.PoolConfig().Advanced; a.CircuitThreshold != 3 || a.CircuitBaseCooldown != 500*time.Millisecond ||
		a.CircuitCooldown != time.Minute || !a.DebugLeaks || a.WarmupBackoffMax != 2*time.Minute || a.CircuitAuthCooldown != -time.Second {
		t.Errorf("pool config advanced = %+v", a)
	}
	out, err := app.Export(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"circuit_threshold: 3", "circuit_base_cooldown: 500ms", "circuit_cooldown: 1m0s", "debug_leaks: true", "warmup_backoff_max: 2m0s", "circuit_auth_cooldown: -1s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	bad := writeFile(t, "c.yaml", "pool:\n  circuit_base_cooldown: 1m\n  circuit_cooldown: 10s\n")
	if _, err := app.LoadConfig(bad, nil); err == nil || !strings.Contains(err.Error(), "pool.circuit_base_cooldown = 1m0s, want 1ns..pool.circuit_cooldown (10s)") {
		t.Errorf("base over cap: want an error naming pool.circuit_base_cooldown, got %v", err)
	}
}

func TestRouterDecisionCacheDefaultAndOff(t *testing.T) {
	c, err := app.LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Router.DecisionCache != app.DefaultDecisionCache || app.DefaultDecisionCache != time.Second {
		t.Errorf("default decision cache = %v, want %v", c.Router.DecisionCache, time.Second)
	}
	path := writeFile(t, "c.yaml", "router:\n  decision_cache: 0s\n")
	if c, err = app.LoadConfig(path, nil); err != nil || c.Router.DecisionCache != 0 {
		t.Errorf("decision_cache: 0s must turn the cache off: %v, %v", c.Router.DecisionCache, err)
	}
}
