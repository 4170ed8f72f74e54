package legacy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// The singleton tests share package state; they do not run in parallel and
// shut the singleton down at the end.

func TestSingletonAccessor(t *testing.T) {
	t.Cleanup(legacy.ShutdownConnectionPool)
	p1 := legacy.GetConnectionPool()
	if p2 := legacy.GetConnectionPool(); p1 != p2 {
		t.Fatal("GetConnectionPool returned two instances")
	}
	legacy.SetDefaultFactory(nil)
	_, err := p1.GetOrCreateConnection(fakeServer, false)
	if !errors.Is(err, legacy.ErrNoFactory) || pool.Classify(err) != pool.KindConfig {
		t.Fatalf("without factory: %v", err)
	}
	f := &fakeFactory{}
	legacy.SetDefaultFactory(f)
	t.Cleanup(func() { legacy.SetDefaultFactory(nil) })
	if _, err := p1.GetOrCreateConnection(fakeServer, false); err != nil || f.dials() != 1 {
		t.Fatalf("with factory: %v, dials %d", err, f.dials())
	}
	legacy.ShutdownConnectionPool()
	if p3 := legacy.GetConnectionPool(); p3 == p1 || p3.Len() != 0 {
		t.Fatal("ShutdownConnectionPool did not reset the singleton")
	}
}

// stubProvider is a ConnectionProvider that only counts calls.
type stubProvider struct{ calls int }

func (s *stubProvider) GetOrCreateConnection(*legacy.Server, bool) (legacy.Connection, error) {
	s.calls++
	return nil, errors.New("stub")
}

func TestInstallRestore(t *testing.T) {
	t.Cleanup(legacy.ShutdownConnectionPool)
	if legacy.Current() != nil || legacy.Provider() != legacy.ConnectionProvider(legacy.GetConnectionPool()) {
		t.Fatal("default Provider must be the legacy singleton")
	}
	a, b := &stubProvider{}, &stubProvider{}
	restoreA := legacy.Install(a)
	restoreB := legacy.Install(b)
	if legacy.Provider() != legacy.ConnectionProvider(b) {
		t.Fatal("Provider is not the last installed")
	}
	legacy.GetConnectionManager().ExecuteCommand(fakeServer, false, "true")
	if b.calls != 1 || a.calls != 0 {
		t.Fatalf("manager did not follow Install: a %d b %d", a.calls, b.calls)
	}
	restoreB()
	restoreB() // idempotent
	if legacy.Current() != legacy.ConnectionProvider(a) {
		t.Fatal("restore did not bring back the previous provider")
	}
	restoreA()
	if legacy.Current() != nil {
		t.Fatal("final restore did not reset to the default")
	}
}

// TestOldCallSiteSwitches shows an unchanged call site moving from the
// legacy pool to the router when start-up installs it.
func TestOldCallSiteSwitches(t *testing.T) {
	e := newEnv(t)
	s := e.server("cs")
	lp, ad := e.legacyPool(t), adaptr(t, e)
	flags, _ := newFlags(t, flagSet(100, false))
	var routes []legacy.Route
	r := legacy.NewRouter(lp, ad, flags, legacy.WithDecisionHook(func(d legacy.Decision) { routes = append(routes, d.Route) }))
	callSite := func() string { // an old call site, after the one-time rewrite
		conn, err := legacy.Provider().GetOrCreateConnection(s, false)
		must(t, err)
		out, err := conn.ExecuteCommand("echo hi")
		must(t, err)
		return out
	}
	restore := legacy.Install(r)
	if callSite() != "hi\n" || len(routes) != 2 || routes[1] != legacy.RouteNew {
		t.Fatalf("installed: routes %v", routes)
	}
	restore()
	legacy.SetDefaultFactory(e.factory)
	legacy.SetDefaultOptions(legacy.WithRegistrar(e.registrar))
	t.Cleanup(func() { legacy.SetDefaultFactory(nil); legacy.SetDefaultOptions(); legacy.ShutdownConnectionPool() })
	if callSite() != "hi\n" || len(routes) != 2 || legacy.GetConnectionPool().Len() != 1 {
		t.Fatalf("restored: routes %v, singleton len %d", routes, legacy.GetConnectionPool().Len())
	}
}

func TestManager(t *testing.T) {
	e := newEnv(t)
	m := legacy.NewConnectionManager(e.legacyPool(t))
	s := e.server("m")
	if out, err := m.ExecuteCommand(s, true, "whoami"); err != nil || out != "root\n" {
		t.Fatalf("ExecuteCommand = %q, %v", out, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.ExecuteCommandContext(ctx, s, true, "sleep 5"); pool.Classify(err) != pool.KindCanceled {
		t.Fatalf("canceled: %v (%v)", err, pool.Classify(err))
	}
	lines := make(chan string, 10)
	must(t, m.ExecuteCommandStream(s, false, "yes 3", lines))
	if len(lines) != 3 {
		t.Fatalf("stream lines = %d", len(lines))
	}
	must(t, m.TestConnection(s, false))
	if st := m.GetConnectionStatus(); len(st) != 2 {
		t.Fatalf("status = %v", st)
	}
}

// TestUnchangedCallSiteFollowsInstall: an old call site that still calls
// GetConnectionPool().GetOrCreateConnection, unedited, is served by the
// router while it is installed, by the singleton again after restore, and a
// router whose legacy route is the singleton itself never loops.
func TestUnchangedCallSiteFollowsInstall(t *testing.T) {
	e := newEnv(t)
	s := e.server("unchanged")
	legacy.SetDefaultFactory(e.factory)
	legacy.SetDefaultOptions(legacy.WithRegistrar(e.registrar))
	t.Cleanup(func() { legacy.SetDefaultFactory(nil); legacy.SetDefaultOptions(); legacy.ShutdownConnectionPool() })
	singleton := legacy.GetConnectionPool()
	flags, mem := newFlags(t, flagSet(100, false))
	var routes []legacy.Route
	r := legacy.NewRouter(singleton, adaptr(t, e), flags,
		legacy.WithDecisionHook(func(d legacy.Decision) { routes = append(routes, d.Route) }))
	callSite := func() string { // unchanged since the singleton was written
		conn, err := legacy.GetConnectionPool().GetOrCreateConnection(s, false)
		must(t, err)
		out, err := conn.ExecuteCommand("echo hi")
		must(t, err)
		return out
	}
	restore := legacy.Install(r)
	if out := callSite(); out != "hi\n" || len(routes) == 0 || routes[len(routes)-1] != legacy.RouteNew {
		t.Fatalf("installed at 100%%: out %q routes %v", out, routes)
	}
	if singleton.Len() != 0 {
		t.Fatalf("the new route must not touch the singleton; it holds %d connections", singleton.Len())
	}
	mem.UpdateFlags(flagSet(100, true)) // kill switch: legacy route = the singleton itself
	if out := callSite(); out != "hi\n" || routes[len(routes)-1] != legacy.RouteLegacy || singleton.Len() != 1 {
		t.Fatalf("kill switch: out %q routes %v singleton len %d", out, routes, singleton.Len())
	}
	restore()
	decisions := len(routes)
	if out := callSite(); out != "hi\n" || len(routes) != decisions {
		t.Fatalf("restored: out %q, %d new routing decisions", out, len(routes)-decisions)
	}
}
