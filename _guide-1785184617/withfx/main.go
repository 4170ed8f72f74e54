// guide:file withfx/main.go
package main

import (
	"log"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/legacy"
)

// Deployer stands for your service's code, taking the router as its
// connection provider.
type Deployer struct{ conns legacy.ConnectionProvider }

func main() {
	cfg, err := app.LoadConfig("/etc/app/sshpool.yaml", os.Environ())
	if err != nil {
		log.Fatal(err) // names the field: "config: 'pool' has invalid keys: max_conections"
	}
	fx.New(
		fx.Supply(slog.New(slog.NewJSONHandler(os.Stderr, nil))), // optional: pool and flag logs
		app.Module(cfg),
		fx.Provide(func(r *legacy.Router) *Deployer { return &Deployer{conns: r} }),
		fx.Invoke(func(*Deployer) {}),
	).Run() // until SIGINT/SIGTERM
}
