package providers

import (
	"context"
	"fmt"
	"os"

	"github.com/google/wire"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// FactorySet provides the sshconn registry, the SSH connection factory
// (bound to pool.ConnectionFactory) and the legacy target registrar (bound
// to legacy.TargetRegistrar).
var FactorySet = wire.NewSet(
	NewRegistry,
	NewFactory,
	wire.Bind(new(pool.ConnectionFactory), new(*sshconn.Factory)),
	NewRegistrar,
	wire.Bind(new(legacy.TargetRegistrar), new(*Registrar)),
)

// NewRegistry returns a registry holding cfg.Targets.
func NewRegistry(cfg Config) *sshconn.Registry {
	reg := sshconn.NewRegistry()
	for key, t := range cfg.Targets {
		reg.Register(key, t)
	}
	return reg
}

// NewFactory returns an SSH factory resolving keys with the registry first,
// then ~/.ssh/config, then "[user@]host[:port]" (sshconn.DefaultResolver).
// Host keys are verified strictly unless a target says otherwise.
func NewFactory(reg *sshconn.Registry) *sshconn.Factory {
	return sshconn.NewFactory(sshconn.DefaultResolver(reg))
}

// envSecret reads a password from the environment variable name at dial
// time. The error names the variable, never its value.
func envSecret(name string) sshconn.SecretSource {
	return sshconn.SecretFunc(func(context.Context, sshconn.Target) (sshconn.Secret, error) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return sshconn.Secret{}, fmt.Errorf("providers: password reference %q: environment variable not set", name)
		}
		return sshconn.NewSecret(v), nil
	})
}

// Registrar bridges legacy.TargetRegistrar to an sshconn registry: a legacy
// Server's host, port, role user, agent, key file and known_hosts become the
// target of the key the legacy pool and the adapter dial. KeyPassphraseRef
// and PasswordRef name environment variables (read at dial time, never
// stored). Host keys are verified strictly.
type Registrar struct {
	reg *sshconn.Registry
}

// NewRegistrar returns a Registrar writing to reg.
func NewRegistrar(reg *sshconn.Registry) *Registrar { return &Registrar{reg: reg} }

// RegisterServer registers key as s's target for the role asRoot. It is
// idempotent and safe for concurrent use (the registry is).
func (r *Registrar) RegisterServer(key string, s *legacy.Server, asRoot bool) error {
	t := sshconn.Target{Key: key, Host: s.Host, Port: s.EffectivePort(), User: s.User(asRoot)}
	t.Auth.Agent = s.UseAgent
	if s.KeyPath != "" {
		t.Auth.IdentityFiles = []string{s.KeyPath}
	}
	if s.KnownHostsPath != "" {
		t.KnownHostsFiles = []string{s.KnownHostsPath}
	}
	if s.KeyPassphraseRef != "" {
		t.Auth.PassphraseEnv = s.KeyPassphraseRef
	}
	if s.PasswordRef != "" {
		t.Auth.Secrets = envSecret(s.PasswordRef)
	}
	r.reg.Register(key, t)
	return nil
}
