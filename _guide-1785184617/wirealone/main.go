// guide:file wirealone/main.go
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	m, cleanup, err := sshpool.InitializeMigration(providers.Config{
		Flags: providers.FlagsConfig{Path: "/etc/app/flags.json", KillSwitchEnv: "SSHPOOL_KILL_SWITCH"},
	})
	if err != nil {
		return err // e.g. an invalid flag file, or a pool config error naming the field
	}
	defer cleanup()

	// 1. Flags ready (sets the provider, starts watching the file).
	if err := m.Flags.Start(ctx); err != nil {
		return err
	}
	defer m.Flags.Shutdown(context.Background())
	// 2. Both pools.
	if err := m.Legacy.Start(); err != nil {
		return err
	}
	defer m.Legacy.Stop()
	if err := m.Pool.Start(ctx); err != nil {
		log.Printf("warm-up incomplete: %v", err) // the pool dials on demand anyway
	}
	defer func() {
		drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Pool.CloseContext(drain) // graceful: leases in flight finish first
	}()
	// 3. The seam: old call sites (legacy.Provider) now reach the router.
	restore := legacy.Install(m.Router)
	defer restore()

	<-ctx.Done()
	return nil
}
