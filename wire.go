//go:build wireinject

package sshpool

import (
	"github.com/google/wire"

	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// InitializePool builds the new pool alone from cfg: config (defaults and
// validation), tracer, SSH factory over the registry of cfg.Targets, health
// monitor. The cleanup closes the pool.
func InitializePool(cfg providers.Config) (pool.Pool, func(), error) {
	wire.Build(providers.PoolOnlySet)
	return nil, nil, nil
}

// InitializeMigration builds the whole migration layer from cfg: both
// pools, the adapter, the router, the flags and the registry. Nothing is
// started; the cleanup releases everything in reverse order of creation.
func InitializeMigration(cfg providers.Config) (*providers.Migration, func(), error) {
	wire.Build(providers.FullSet)
	return nil, nil, nil
}
