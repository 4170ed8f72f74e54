package providers_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
	"go.uber.org/goleak"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewPoolConfigAppliesDefaultsAndNamesBadField(t *testing.T) {
	pc, err := providers.NewPoolConfig(providers.Config{})
	if err != nil || pc.MaxConnections != 100 { // the documented default
		t.Fatalf("zero config: %+v, %v", pc, err)
	}
	_, err = providers.NewPoolConfig(providers.Config{Pool: pool.PoolConfig{MaxConnections: -1}})
	if err == nil || !strings.Contains(err.Error(), "MaxConnections") {
		t.Fatalf("want an error naming MaxConnections, got %v", err)
	}
}

// TestNewPoolRefusesBadConfig: the pool provider fails construction on
// a config that did not come through NewPoolConfig (a graph that
// provides its own pool.PoolConfig), naming the field, instead of
// returning a pool whose every Get fails.
func TestNewPoolRefusesBadConfig(t *testing.T) {
	factory := pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
		return nil, errors.New("no dial expected")
	})
	p, cleanup, err := providers.NewPool(factory, pool.PoolConfig{MaxSessionsPerConnection: -3}, nil, nil)
	if p != nil || cleanup != nil {
		t.Fatal("NewPool returned a pool for an invalid config")
	}
	if err == nil || !strings.Contains(err.Error(), "MaxSessionsPerConnection = -3") {
		t.Fatalf("want an error naming MaxSessionsPerConnection, got %v", err)
	}
	p, cleanup, err = providers.NewPool(factory, pool.PoolConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if got := p.Config().MaxSessionsPerConnection; got != 8 {
		t.Errorf("MaxSessionsPerConnection = %d, want the default 8", got)
	}
}

func TestNewTracerNilLoggerIsNoop(t *testing.T) {
	if tr := providers.NewTracer(nil, providers.Observers{}); tr != nil {
		t.Fatalf("nil logger and no observer gave %+v, want nil (no tracing)", tr)
	}
	obs := &pool.Tracer{Release: func(pool.ReleaseData) {}}
	if tr := providers.NewTracer(nil, providers.Observers{Tracer: obs}); tr != obs {
		t.Errorf("nil logger gave %p, want the observers' tracer %p", tr, obs)
	}
	if tr := providers.NewTracer(slog.New(slog.DiscardHandler), providers.Observers{}); tr == nil || tr.GetEnd == nil {
		t.Errorf("a logger gave %+v, want the slog tracer", tr)
	}
}

func TestRegistrarRegistersServerTarget(t *testing.T) {
	reg := sshconn.NewRegistry()
	r := providers.NewRegistrar(reg)
	s := &legacy.Server{ID: "1", Host: "10.0.0.5", Port: 2222, AppUsername: "app", RootUsername: "root",
		ManualKeyPath: "/k", KnownHostsPath: "/kh", PasswordRef: "PW_ENV"}
	if err := r.RegisterServer("k", s, true); err != nil {
		t.Fatal(err)
	}
	tg, err := reg.Resolve(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Host != "10.0.0.5" || tg.Port != 2222 || tg.User != "root" || tg.Auth.IdentityFiles[0] != "/k" ||
		tg.KnownHostsFiles[0] != "/kh" || tg.Auth.PasswordEnv != "PW_ENV" || tg.Auth.Secrets != nil {
		t.Fatalf("unexpected target %#v", tg)
	}
}

func TestFlagProviderWithoutFileRoutesToLegacy(t *testing.T) {
	p, err := providers.NewFlagProvider(providers.FlagsConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, cleanup, _ := providers.NewFlags(p, providers.NewMetricsHook(), providers.Observers{})
	defer cleanup()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if routesNew(f) {
		t.Fatal("no flag file must route to legacy")
	}
}

// routesNew reports whether the migration router (legacy.Router, the one
// routing decision) sends a call to a server to the new pool with f.
func routesNew(f *featureflags.Flags) bool {
	r := legacy.NewRouter(nil, nil, f.Client()) // decides only: no pools
	defer r.Close()
	return r.Decide(context.Background(), &legacy.Server{ID: "1", Host: "h", Port: 22, Name: "n"}, false).Route == legacy.RouteNew
}

func TestFlagProviderRejectsInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	os.WriteFile(path, []byte(`{"flags": {"x": {"state": "ON"}}}`), 0o600)
	_, err := providers.NewFlagProvider(providers.FlagsConfig{Path: path}, nil)
	if !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Fatalf("want ErrInvalidFlagFile, got %v", err)
	}
}

// staticSource is a flag source holding one document, as a store-backed
// source (etcd) would deliver it.
type staticSource struct{ doc string }

func (s staticSource) Name() string { return "static" }
func (s staticSource) Read(context.Context) (featureflags.Document, error) {
	return featureflags.Document{Data: []byte(s.doc), Format: featureflags.FormatJSON, Origin: "static", Version: "rev 7"}, nil
}
func (staticSource) Start(context.Context, featureflags.Sink) error { return nil }
func (staticSource) Stop(context.Context) error                     { return nil }

// TestFlagProviderFromSource: a configured Source replaces the file, with
// the same options (here the kill-switch variable and the size cap).
func TestFlagProviderFromSource(t *testing.T) {
	doc := `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
	  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}`
	t.Setenv("SSHPOOL_TEST_KILL", "")
	p, err := providers.NewFlagProvider(providers.FlagsConfig{Source: staticSource{doc}, Path: "/nonexistent",
		KillSwitchEnv: "SSHPOOL_TEST_KILL"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.(*featureflags.Provider).Document(); d.Version != "rev 7" || d.Origin != "static" {
		t.Errorf("document %+v", d)
	}
	f, cleanup, _ := providers.NewFlags(p, providers.NewMetricsHook(), providers.Observers{})
	defer cleanup()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !routesNew(f) {
		t.Error("the source's flags should route to the new pool")
	}
	t.Setenv("SSHPOOL_TEST_KILL", "true")
	if routesNew(f) {
		t.Error("the kill-switch variable should apply to a source too")
	}
	_, err = providers.NewFlagProvider(providers.FlagsConfig{Source: staticSource{doc}, MaxBytes: 10}, nil)
	if !errors.Is(err, featureflags.ErrDocumentTooLarge) {
		t.Errorf("size cap on a source: %v", err)
	}
}

// TestInitializeMigrationRunsCommandsOnBothRoutes builds the graph with the
// generated injector and runs a command through the router on each route.
func TestInitializeMigrationRunsCommandsOnBothRoutes(t *testing.T) {
	srv := sshtest.NewServer(t)
	dir := t.TempDir()
	keyFile, knownHosts, err := srv.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	flagFile := filepath.Join(dir, "flags.json")
	os.WriteFile(flagFile, []byte(`{"flags": {
		"kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
		"use-new-pool": {"state": "ENABLED",
		"variants": {"on": true, "off": false}, "defaultVariant": "off",
		"targeting": {"if": [{"in": [{"var": "targetingKey"}, ["new-1"]]}, "on", "off"]}}}}`), 0o600)

	m, cleanup, err := sshpool.InitializeMigration(providers.Config{Flags: providers.FlagsConfig{Path: flagFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if err := m.Flags.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]legacy.Route{"new-1": legacy.RouteNew, "old-1": legacy.RouteLegacy} {
		s := &legacy.Server{ID: id, Host: srv.Host(), Port: srv.Port(), AppUsername: "app",
			ManualKeyPath: keyFile, KnownHostsPath: knownHosts}
		if d := m.Router.Decide(context.Background(), s, false); d.Route != want {
			t.Errorf("%s: route %v, want %v", id, d.Route, want)
		}
		c, err := m.Router.GetOrCreateConnection(s, false)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.ExecuteCommand("whoami")
		if err != nil || strings.TrimSpace(out) != "app" {
			t.Errorf("%s: whoami = %q, %v", id, out, err)
		}
		c.Close()
	}
	if got := m.Router.Stats(); got.New == 0 || got.Legacy == 0 || got.Fallbacks != 0 {
		t.Errorf("router stats %+v", got)
	}
}

func TestInitializePoolRejectsBadConfig(t *testing.T) {
	_, _, err := sshpool.InitializePool(providers.Config{Pool: pool.PoolConfig{MaxSessionsPerConnection: -3}})
	if err == nil || !strings.Contains(err.Error(), "MaxSessionsPerConnection") {
		t.Fatalf("want an error naming MaxSessionsPerConnection, got %v", err)
	}
}

// TestRouteChangeDropsNewPoolIdleConnection: when the router moves a key
// from the new pool to legacy, the adapter wired by NewAdapter drops the
// new pool's idle connection for the key; moving back drops legacy's.
func TestRouteChangeDropsNewPoolIdleConnection(t *testing.T) {
	srv := sshtest.NewServer(t)
	dir := t.TempDir()
	keyFile, knownHosts, err := srv.WriteClientFiles(dir)
	if err != nil {
		t.Fatal(err)
	}

	reg := providers.NewRegistry(providers.Config{})
	factory, registrar := providers.NewFactory(reg), providers.NewRegistrar(reg)
	p, closePool, err := providers.NewPool(factory, pool.PoolConfig{HealthInterval: -1, CleanupInterval: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closePool()
	lp, stopLegacy, _ := providers.NewLegacyPool(factory, registrar, providers.LegacyConfig{}, nil)
	defer stopLegacy()
	mem := memprovider.NewInMemoryProvider(routeFlags(true))
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(context.Background(), mem); err != nil {
		t.Fatal(err)
	}
	defer api.Shutdown(context.Background())
	r, closeRouter, _ := providers.NewRouter(lp, providers.NewAdapter(p, registrar, providers.LegacyConfig{}, nil), api.NewClient(), providers.RouterConfig{}, nil, providers.Observers{})
	defer closeRouter()

	s := &legacy.Server{ID: "web-1", Host: srv.Host(), Port: srv.Port(), AppUsername: "app",
		ManualKeyPath: keyFile, KnownHostsPath: knownHosts}
	key := legacy.Key(s, false)
	run := func(want legacy.Route) {
		t.Helper()
		if d := r.Decide(context.Background(), s, false); d.Route != want {
			t.Fatalf("route %v, want %v", d.Route, want)
		}
		c, err := r.GetOrCreateConnection(s, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecuteCommand("true"); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	idle := func() int {
		n := 0
		for _, e := range p.Entries() {
			if e.Key == key && e.State == pool.StateIdle {
				n++
			}
		}
		return n
	}

	run(legacy.RouteNew)
	if n := idle(); n != 1 {
		t.Fatalf("new pool idle connections for %s = %d, want 1", key, n)
	}
	mem.UpdateFlags(routeFlags(false))
	run(legacy.RouteLegacy)
	if n := idle(); n != 0 {
		t.Errorf("after the move to legacy: %d idle connections left in the new pool, want 0", n)
	}
	mem.UpdateFlags(routeFlags(true))
	run(legacy.RouteNew)
	if got := r.Stats(); got.RouteChanges != 2 || got.Drained != 2 {
		t.Errorf("router stats %+v, want 2 route changes, both drained", got)
	}
}

// routeFlags sends every key to the new pool (toNew) or to legacy.
func routeFlags(toNew bool) map[string]memprovider.InMemoryFlag {
	flag := func(key string, on bool) memprovider.InMemoryFlag {
		v := map[bool]string{true: "on", false: "off"}[on]
		return memprovider.InMemoryFlag{Key: key, State: memprovider.Enabled, DefaultVariant: v,
			Variants: map[string]any{"on": true, "off": false}}
	}
	return map[string]memprovider.InMemoryFlag{
		featureflags.FlagKillSwitch: flag(featureflags.FlagKillSwitch, false),
		featureflags.FlagUseNewPool: flag(featureflags.FlagUseNewPool, toNew),
	}
}
