// guide:file deploy/wire.go
//go:build wireinject

package deploy

import (
	"github.com/google/wire"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

// InitializeDeployer builds the migration layer and a Deployer on its
// router. Generate wire_gen.go with `go tool wire gen ./deploy`.
func InitializeDeployer(cfg providers.Config) (*Deployer, func(), error) {
	wire.Build(
		providers.FullSet,
		wire.Bind(new(legacy.ConnectionProvider), new(*legacy.Router)),
		NewDeployer,
	)
	return nil, nil, nil
}
