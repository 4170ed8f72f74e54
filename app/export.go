package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"

	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshconn"
)

// Redacted replaces secrets in exported configuration.
const Redacted = "<redacted>"

// Redact returns c with every secret replaced by Redacted (targets'
// passwords, the etcd password). Maps are copied; c is not modified.
func (c Config) Redact() Config {
	c.Targets = maps.Clone(c.Targets)
	for k, t := range c.Targets {
		if t.Password != "" {
			t.Password = Redacted
		}
		c.Targets[k] = t
	}
	if c.Flags.Etcd.Password != "" {
		c.Flags.Etcd.Password = Redacted
	}
	c.Flags.Etcd.Endpoints = slices.Clone(c.Flags.Etcd.Endpoints)
	return c
}

// Export renders c as YAML with secrets redacted and durations as strings
// ("30s"). The output loads back with LoadConfig (a redacted password then
// is the literal placeholder, so re-supply secrets by environment).
func Export(c Config) ([]byte, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(c.Redact(), "koanf"), nil); err != nil {
		return nil, fmt.Errorf("config: export: %w", err)
	}
	b, err := k.Marshal(yaml.Parser())
	if err != nil {
		return nil, fmt.Errorf("config: export: %w", err)
	}
	return b, nil
}

// ExportJSON renders c like Export, as a JSON config file: secrets
// redacted, durations as strings ("30s"), so that it loads back.
func ExportJSON(c Config) ([]byte, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(c.Redact(), "koanf"), nil); err != nil {
		return nil, fmt.Errorf("config: export: %w", err)
	}
	for key, v := range k.All() {
		if d, ok := v.(time.Duration); ok {
			k.Set(key, d.String())
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(k.Raw()); err != nil {
		return nil, fmt.Errorf("config: export: %w", err)
	}
	return b.Bytes(), nil
}

// Providers converts c to the component graph's input, logging to logger
// (nil: no logging).
func (c Config) Providers(logger *slog.Logger) providers.Config {
	pc := c.Pool.PoolConfig()
	ks := c.Flags.KillSwitchEnv
	if ks == "-" {
		ks = ""
	}
	return providers.Config{
		Pool: pc,
		Legacy: providers.LegacyConfig{
			HealthInterval: c.Legacy.HealthInterval, StaleInterval: c.Legacy.StaleInterval,
			StaleMaxAge: c.Legacy.StaleMaxAge, CommandTimeout: c.Legacy.CommandTimeout,
			DialTimeout: c.Legacy.DialTimeout, DrainTimeout: c.Lifecycle.withDefaults().DrainTimeout,
		},
		Flags: providers.FlagsConfig{Path: c.Flags.File, KillSwitchEnv: ks,
			PollInterval: c.Flags.PollInterval, Debounce: c.Flags.Debounce, MaxBytes: c.Flags.MaxBytes},
		Router:  providers.RouterConfig{DecisionCache: c.Router.DecisionCache, KeepIdleOnChange: c.Router.KeepIdleOnChange},
		Targets: c.targets(),
		Logger:  logger,
	}
}

func (c Config) targets() map[string]sshconn.Target {
	out := make(map[string]sshconn.Target, len(c.Targets))
	for k, t := range c.Targets {
		st := sshconn.Target{Key: k, Host: t.Host, Port: t.Port, User: t.User, KnownHostsFiles: t.KnownHosts}
		st.Auth.Agent = t.Agent
		st.Auth.IdentityFiles = t.IdentityFiles
		switch {
		case t.Password != "":
			st.Auth.Secrets = sshconn.StaticPassword(sshconn.NewSecret(t.Password))
		case t.PasswordEnv != "":
			st.Auth.PasswordEnv = t.PasswordEnv
		}
		out[k] = st
	}
	return out
}
