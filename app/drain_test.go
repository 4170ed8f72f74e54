package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/sshtest"
)

// flagsToNew sends the server "to-new" to the new pool, every other one to
// legacy.
const flagsToNew = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["to-new"]]}, "on", "off"]}}}}`

// drainFixture is an app on an sshtest server whose "block" command runs
// until release, with one server routed to each pool.
type drainFixture struct {
	fxa      *fxtest.App
	release  func()
	servers  []*legacy.Server
	inFlight sync.WaitGroup
	results  chan error
	running  chan struct{} // a "block" command started on the server
}

func newDrainFixture(t *testing.T, drain time.Duration, edit ...func(*app.Config)) *drainFixture {
	t.Helper()
	released, running := make(chan struct{}), make(chan struct{}, 8)
	srv := sshtest.NewServer(t, sshtest.WithHandler(func(ctx context.Context, s *sshtest.Session) int {
		if s.Command != "block" {
			return sshtest.DefaultHandler(ctx, s)
		}
		running <- struct{}{}
		select {
		case <-released:
			return 0
		case <-ctx.Done():
			return sshtest.ExitSignalled
		}
	}))
	f := &drainFixture{release: sync.OnceFunc(func() { close(released) }), results: make(chan error, 2), running: running}
	t.Cleanup(f.release)
	t.Cleanup(legacy.ShutdownConnectionPool)
	dir := t.TempDir()
	keyFile, knownHosts, err := srv.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	flagFile := filepath.Join(dir, "flags.json")
	os.WriteFile(flagFile, []byte(flagsToNew), 0o600)
	cfg, err := app.Defaults("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags.File, cfg.Admin.Addr, cfg.Lifecycle.DrainTimeout = flagFile, app.AdminOff, drain
	for _, e := range edit {
		e(&cfg)
	}
	for _, id := range []string{"to-legacy", "to-new"} {
		f.servers = append(f.servers, &legacy.Server{ID: id, Host: srv.Host(), Port: srv.Port(), AppUsername: "app",
			ManualKeyPath: keyFile, KnownHostsPath: knownHosts})
	}
	f.fxa = fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(cfg))).RequireStart()
	return f
}

// startBlocked starts "block" on every server through the old API (the
// singleton, routed) and waits until both run on the server, one on each
// pool (a connection in use is not yet a command running: a stop in that
// gap refuses the command, as it should).
func (f *drainFixture) startBlocked(t *testing.T) {
	for _, s := range f.servers {
		f.inFlight.Go(func() {
			_, err := legacy.GetConnectionManager().ExecuteCommand(s, false, "block")
			f.results <- err
		})
	}
	timeout := time.After(30 * time.Second)
	for range f.servers {
		select {
		case <-f.running:
		case <-timeout:
			t.Fatalf("commands not running on the server: %+v", legacy.GetConnectionPool().GetConnectionStatus())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := legacy.GetConnectionPool().GetConnectionStatus()
		a, b := st[legacy.Key(f.servers[0], false)], st[legacy.Key(f.servers[1], false)]
		if a.InUse == 1 && b.InUse == 1 && a.Pool == legacy.PoolLegacy && b.Pool == legacy.PoolNew {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("commands not in flight on both pools: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStopDrainsOldAPI is the regression test for "SIGTERM with legacy
// commands in flight cut 49 of 49 while serve printed 'pools drained'":
// stopping the app (what SIGTERM does) refuses new old-API calls with a
// "shutting down" error while a legacy and a new-pool command finish, and
// the stop succeeds once they have.
func TestStopDrainsOldAPI(t *testing.T) {
	f := newDrainFixture(t, 30*time.Second)
	f.startBlocked(t)
	stopped := make(chan error, 1)
	go func() { stopped <- f.fxa.Stop(context.Background()) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := legacy.GetConnectionManager().ExecuteCommand(f.servers[0], false, "true")
		if errors.Is(err, legacy.ErrPoolStopped) && strings.Contains(err.Error(), "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new old-API call during shutdown: %v; want a shutting-down error", err)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("stop returned (%v) with commands in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	f.release()
	f.inFlight.Wait()
	for range f.servers {
		if err := <-f.results; err != nil {
			t.Errorf("a command in flight was cut: %v", err)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := legacy.GetConnectionPool().GetOrCreateConnection(f.servers[1], false); !errors.Is(err, legacy.ErrPoolStopped) {
		t.Fatalf("old call site after shutdown: %v; want shutting down, not a new connection", err)
	}
}

// TestStopReportsCutCommands: commands that outlive lifecycle.drain_timeout
// are cut, and the stop fails naming them, per pool and key.
func TestStopReportsCutCommands(t *testing.T) {
	f := newDrainFixture(t, 100*time.Millisecond)
	f.startBlocked(t)
	err := f.fxa.Stop(context.Background())
	var de *legacy.DrainError
	if !errors.As(err, &de) || de.Cut != 1 || !strings.Contains(err.Error(), "legacy drain: 1 running commands cut") ||
		!strings.Contains(err.Error(), "adapter drain: 1 running commands cut") {
		t.Fatalf("stop = %v; want the legacy and the adapter drain each reporting one command cut", err)
	}
	f.release()
	f.inFlight.Wait()
}

// TestStopDrainsWithinDrainTimeout: the old API's drain and the new
// pool's drain share one lifecycle.drain_timeout. Each had its own: a
// new-pool command of the old API that outlived its drain held its lease
// through the pool's drain too, so the stop took twice drain_timeout and,
// with LifecycleSection's recommended stop timeout (drain + 5 s) and a
// drain over 5 s, ran past the host's deadline, which skips the OnStop
// hooks left (legacy pool, flags, the injector's cleanup). Here the host
// allows drain + 1.5 s: twice the drain does not fit.
func TestStopDrainsWithinDrainTimeout(t *testing.T) {
	const drain = 3 * time.Second
	f := newDrainFixture(t, drain)
	f.startBlocked(t)
	ctx, cancel := context.WithTimeout(context.Background(), drain+1500*time.Millisecond)
	defer cancel()
	err := f.fxa.Stop(ctx)
	if ctx.Err() != nil {
		t.Errorf("stop ran past the host's stop timeout (drain_timeout %v + 1.5s): %v", drain, err)
	}
	var de *legacy.DrainError
	if !errors.As(err, &de) {
		t.Errorf("stop = %v; want the commands cut at the drain deadline reported", err)
	}
	f.release()
	f.inFlight.Wait()
}

// TestLegacyCommandTimeoutBothPools is the regression test for "calls
// routed to the new pool have no command timeout at all (nothing wires
// WithAdapterCommandTimeout from config)": legacy.command_timeout bounds
// old-API commands on both pools.
func TestLegacyCommandTimeoutBothPools(t *testing.T) {
	f := newDrainFixture(t, time.Second, func(c *app.Config) { c.Legacy.CommandTimeout = 200 * time.Millisecond })
	defer f.fxa.RequireStop()
	for _, s := range f.servers {
		_, err := legacy.GetConnectionManager().ExecuteCommand(s, false, "sleep 30")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: sleep 30 = %v; want the 200ms command timeout", s.ID, err)
		}
	}
	st := legacy.GetConnectionPool().GetConnectionStatus()
	if st[legacy.Key(f.servers[0], false)].Pool != legacy.PoolLegacy || st[legacy.Key(f.servers[1], false)].Pool != legacy.PoolNew {
		t.Fatalf("the commands did not run on both pools: %+v", st)
	}
}

// TestLegacyTimeoutsValidated: a negative or sub-millisecond timeout is a
// config error naming the key; the defaults are the documented ones.
func TestLegacyTimeoutsValidated(t *testing.T) {
	def, err := app.Defaults("")
	if err != nil || def.Legacy.CommandTimeout != legacy.DefaultCommandTimeout || def.Legacy.DialTimeout != legacy.DefaultDialTimeout {
		t.Fatalf("defaults: %+v, %v", def.Legacy, err)
	}
	for key, edit := range map[string]func(*app.Config){
		"legacy.command_timeout": func(c *app.Config) { c.Legacy.CommandTimeout = 30 },
		"legacy.dial_timeout":    func(c *app.Config) { c.Legacy.DialTimeout = -time.Second },
	} {
		c := def
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: Validate = %v; want an error naming it", key, err)
		}
	}
}
