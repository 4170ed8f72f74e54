package providers

import (
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

// Registrar bridges legacy.TargetRegistrar to an sshconn registry: a
// legacy Server becomes the Target the old pool dialled (see
// legacy.Server.Target: agent, key files, known_hosts recorded on first use
// or strict for SecurityLocked servers, password and passphrase from the
// environment variables it names), registered under the key the legacy
// pool and the adapter dial.
type Registrar struct {
	reg *sshconn.Registry
}

// NewRegistrar returns a Registrar writing to reg.
func NewRegistrar(reg *sshconn.Registry) *Registrar { return &Registrar{reg: reg} }

// RegisterServer registers key as s's target for the role asRoot. It is
// idempotent and safe for concurrent use (the registry is).
func (r *Registrar) RegisterServer(key string, s *legacy.Server, asRoot bool) error {
	t := s.Target(asRoot)
	t.Key = key
	r.reg.Register(key, t)
	return nil
}
