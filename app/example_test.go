package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/fx"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/legacy"
)

// ExampleLoadConfig loads defaults, a file and environment overrides, and
// shows that errors name the offending key.
func ExampleLoadConfig() {
	dir, _ := os.MkdirTemp("", "app-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sshpool.yaml")
	os.WriteFile(path, []byte("pool:\n  max_connections: 20\n  wait_timeout: 30s\n"), 0o600)

	c, err := app.LoadConfig(path, []string{"SSHPOOL_POOL__MAX_CONNECTIONS=50"})
	fmt.Println(c.Pool.MaxConnections, c.Pool.WaitTimeout, c.Pool.DialTimeout, err)

	os.WriteFile(path, []byte("pool:\n  max_conections: 20\n"), 0o600)
	_, err = app.LoadConfig(path, nil)
	fmt.Println(err != nil)
	// Output:
	// 50 30s 15s <nil>
	// true
}

// ExampleModule starts and stops the migration layer under fx with the
// admin server off and no flag file (every call routes to legacy).
func ExampleModule() {
	cfg, _ := app.Defaults("development")
	cfg.Admin.Addr = app.AdminOff
	var router *legacy.Router
	fxa := fx.New(fx.NopLogger, app.Module(app.WithConfig(cfg)), fx.Populate(&router))
	if err := fxa.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("seam installed:", legacy.Provider() == legacy.ConnectionProvider(router))
	d := router.Decide(context.Background(), &legacy.Server{ID: "web-1", Host: "10.0.0.5"}, false)
	fmt.Println("decision:", d.Route, d.Reason)
	fxa.Stop(context.Background())
	fmt.Println("seam restored:", legacy.Provider() != legacy.ConnectionProvider(router))
	// Output:
	// seam installed: true
	// decision: legacy flag-not-found
	// seam restored: true
}
