package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/legacy"
)

// TestStopDrainsManyOnSSHD is the chaos finding "SIGTERM with legacy
// commands in flight cut 49 of 49 (connection-lost) while serve printed
// 'pools drained'", on a real sshd and at the chaos run's scale: 24
// old-API commands in flight on each pool (4 servers per pool, 6 commands
// each) when the app stops, as serve does on SIGTERM. Every command
// finishes with its output, a new call is refused as shutting down, and
// the stop returns only after the last command ended.
func TestStopDrainsManyOnSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	srv := sshdtest.Start(t)
	t.Cleanup(legacy.ShutdownConnectionPool)
	const perPool, servers, perServer = 24, 4, 6
	var toNew []string
	var all []*legacy.Server
	for i := range 2 * servers {
		s := &legacy.Server{ID: fmt.Sprintf("srv-%d", i), Host: srv.Host(), Port: srv.Port(), AppUsername: srv.User(),
			ManualKeyPath: srv.ClientKeyPath(), KnownHostsPath: srv.KnownHostsPath(), SecurityLocked: true}
		if i%2 == 1 {
			toNew = append(toNew, `"`+s.ID+`"`)
		}
		all = append(all, s)
	}
	flagFile := filepath.Join(t.TempDir(), "flags.json")
	doc := strings.Replace(flagsToNew, `["to-new"]`, "["+strings.Join(toNew, ",")+"]", 1)
	if err := os.WriteFile(flagFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.Defaults("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags.File, cfg.Admin.Addr, cfg.Lifecycle.DrainTimeout = flagFile, app.AdminOff, 30*time.Second
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(cfg))).RequireStart()

	// Each command runs until the marker file exists, then prints "done".
	release := filepath.Join(srv.Dir(), "release")
	cmd := "while [ ! -e " + release + " ]; do sleep 0.05; done; echo done"
	var wg sync.WaitGroup
	results := make(chan error, 2*perPool)
	for _, s := range all {
		for range perServer {
			wg.Go(func() {
				out, err := legacy.GetConnectionManager().ExecuteCommand(s, false, cmd)
				if err == nil && out != "done\n" {
					err = fmt.Errorf("%s: output %q", s.ID, out)
				}
				results <- err
			})
		}
	}
	t.Cleanup(func() { os.WriteFile(release, nil, 0o644) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		inUse := map[string]int{}
		for _, st := range legacy.GetConnectionPool().GetConnectionStatus() {
			inUse[st.Pool] += st.InUse
		}
		if inUse[legacy.PoolLegacy] == perPool && inUse[legacy.PoolNew] == perPool {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commands in flight: %v; want %d on each pool", inUse, perPool)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- fxa.Stop(context.Background()) }()
	for {
		_, err := legacy.GetConnectionManager().ExecuteCommand(all[0], false, "true")
		if errors.Is(err, legacy.ErrPoolStopped) && strings.Contains(err.Error(), "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new old-API call during shutdown: %v; want a shutting-down error", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("stop returned (%v) with %d commands in flight", err, 2*perPool)
	case <-time.After(200 * time.Millisecond):
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	cut := 0
	for err := range results {
		if err != nil {
			cut++
			t.Errorf("cut: %v", err)
		}
	}
	if err := <-stopped; err != nil || cut > 0 {
		t.Fatalf("stop: %v; %d of %d commands cut", err, cut, 2*perPool)
	}
}
