package legacy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// The singleton tests share package state; they do not run in parallel and
// shut the singleton down at the end.

// resetSingleton forgets the singleton and its settings at cleanup.
func resetSingleton(t *testing.T) {
	t.Cleanup(func() {
		legacy.SetDefaultFactory(nil)
		legacy.SetDefaultOptions()
		legacy.ShutdownConnectionPool()
	})
}

func TestSingletonAccessor(t *testing.T) {
	resetSingleton(t)
	p1 := legacy.GetConnectionPool()
	if p2 := legacy.GetConnectionPool(); p1 != p2 {
		t.Fatal("GetConnectionPool returned two instances")
	}
	f := &fakeFactory{}
	legacy.SetDefaultFactory(f)
	if _, err := p1.GetOrCreateConnection(fakeServer, false); err != nil || f.dials() != 1 {
		t.Fatalf("with factory: %v, dials %d", err, f.dials())
	}
	legacy.ShutdownConnectionPool()
	if p3 := legacy.GetConnectionPool(); p3 == p1 || p3.Len() != 0 {
		t.Fatal("ShutdownConnectionPool did not reset the singleton")
	}
	if _, err := p1.GetOrCreateConnection(fakeServer, false); !errors.Is(err, legacy.ErrPoolStopped) {
		t.Fatalf("the stopped singleton served a call: %v", err)
	}
}

// stubProvider is a ConnectionProvider that only counts calls.
type stubProvider struct{ calls int }

func (s *stubProvider) GetOrCreateConnection(*legacy.Server, bool) (*legacy.PooledConnection, error) {
	s.calls++
	return nil, errors.New("stub")
}

func TestInstallRestore(t *testing.T) {
	resetSingleton(t)
	if legacy.Provider() != legacy.ConnectionProvider(legacy.GetConnectionPool()) {
		t.Fatal("default Provider must be the legacy singleton")
	}
	a, b := &stubProvider{}, &stubProvider{}
	restoreA := legacy.Install(a)
	restoreB := legacy.Install(b)
	if legacy.Provider() != legacy.ConnectionProvider(b) {
		t.Fatal("Provider is not the last installed")
	}
	_, err := legacy.GetConnectionManager().ExecuteCommand(fakeServer, false, "true")
	if b.calls != 1 || a.calls != 0 || !strings.HasPrefix(err.Error(), "failed to get connection: stub") {
		t.Fatalf("manager did not follow Install: a %d b %d, err %v", a.calls, b.calls, err)
	}
	legacy.GetConnectionPool().GetOrCreateConnection(fakeServer, false)
	if b.calls != 2 {
		t.Fatalf("the singleton did not follow Install: b %d", b.calls)
	}
	restoreB()
	restoreB() // idempotent
	if legacy.Provider() != legacy.ConnectionProvider(a) {
		t.Fatal("restore did not bring back the previous provider")
	}
	restoreA()
	if legacy.Provider() != legacy.ConnectionProvider(legacy.GetConnectionPool()) {
		t.Fatal("final restore did not reset to the default")
	}
}

func TestManager(t *testing.T) {
	e := newEnv(t)
	m := legacy.NewConnectionManagerFor(e.legacyPool(t))
	s := e.server("m")
	if out, err := m.ExecuteCommand(s, true, "whoami"); err != nil || out != "root\n" {
		t.Fatalf("ExecuteCommand = %q, %v", out, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.ExecuteCommandContext(ctx, s, true, "sleep 5"); failure.Classify(err) != failure.Canceled {
		t.Fatalf("canceled: %v (%v)", err, failure.Classify(err))
	}
	lines := make(chan string, 10)
	must(t, m.ExecuteCommandStream(s, false, "yes 3", lines))
	if len(lines) != 3 {
		t.Fatalf("stream lines = %d", len(lines))
	}
	must(t, m.TestConnection(s, false))
	st := m.GetConnectionStatus()
	if len(st) != 2 || st[legacy.Key(s, true)].UseCount == 0 {
		t.Fatalf("status = %+v", st)
	}
	if n := m.CleanupConnections(); n != 0 {
		t.Fatalf("CleanupConnections removed %d fresh connections", n)
	}
	_, err := m.ExecuteCommand(e.down(t, "m-down"), false, "true")
	var ce *legacy.CommandError
	if !strings.HasPrefix(fmtErr(err), "failed to get connection: legacy: connect ") || !errors.As(err, &ce) ||
		ce.Op != legacy.OpConnect || failure.Classify(err) != failure.Refused {
		t.Fatalf("unreachable: %v", err)
	}
	m.Shutdown()
	if _, err := m.ExecuteCommand(s, true, "true"); !errors.Is(err, legacy.ErrPoolStopped) ||
		!strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("after Shutdown: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestUnchangedCallSiteFollowsInstall: an old call site that calls
// GetConnectionPool().GetOrCreateConnection, unedited and with no set-up
// (the singleton dials with its own dialer), is served by the router while
// it is installed, by the singleton again after restore, and a router
// whose legacy route is the singleton itself never loops.
func TestUnchangedCallSiteFollowsInstall(t *testing.T) {
	resetSingleton(t)
	e := newEnv(t)
	s := e.server("unchanged")
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
	waitFor(t, func() bool { return r.Decide(context.Background(), s, false).Route == legacy.RouteLegacy })
	if out := callSite(); out != "hi\n" || routes[len(routes)-1] != legacy.RouteLegacy || singleton.Len() != 1 {
		t.Fatalf("kill switch: out %q routes %v singleton len %d", out, routes, singleton.Len())
	}
	restore()
	decisions := len(routes)
	if out := callSite(); out != "hi\n" || len(routes) != decisions {
		t.Fatalf("restored: out %q, %d new routing decisions", out, len(routes)-decisions)
	}
}

// TestOldCallSiteOneEvaluation is the regression test for "the router
// decides twice per old-style call": GetOrCreateConnection followed by
// ExecuteCommand evaluates the flags once, with and without the decision
// cache, and with the cache repeated calls for the same server reuse the
// decision until the provider reports a change.
func TestOldCallSiteOneEvaluation(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Hour} {
		t.Run("cache="+ttl.String(), func(t *testing.T) {
			lp := legacy.NewConnectionPool(legacy.WithFactory(&fakeFactory{}), legacy.WithHealthInterval(0))
			t.Cleanup(lp.Stop)
			client, _ := newFlags(t, flagSet(100, false))
			evals := countEvaluations(client)
			r := legacy.NewRouter(lp, lp, client, legacy.WithDecisionCache(ttl))
			t.Cleanup(func() { r.Close() })
			call := func() {
				conn, err := r.GetOrCreateConnection(fakeServer, false)
				must(t, err)
				_, err = conn.ExecuteCommand("echo x")
				must(t, err)
			}
			call()
			if n := evals(); n != 1 {
				t.Fatalf("one old-style call evaluated the flags %d times", n)
			}
			for range 5 {
				call()
			}
			want := 6
			if ttl > 0 {
				want = 1
			}
			if n := evals(); n != want {
				t.Fatalf("six calls evaluated %d times, want %d", n, want)
			}
			if st := r.Stats(); st.Decisions != 12 {
				t.Fatalf("decisions %d, want 12 (two per call, counted whether evaluated or reused)", st.Decisions)
			}
		})
	}
}

// TestSingletonRoutesEveryMethod: with the router installed, the value
// GetConnectionPool returns serves status (both pools, under the old keys),
// cleanup, removal and Stop through the router, and the old manager
// follows.
func TestSingletonRoutesEveryMethod(t *testing.T) {
	resetSingleton(t)
	e := newEnv(t)
	lp := e.legacyPool(t)
	ad, np := e.adapter(t)
	client, _ := newFlags(t, map[string]memFlag{featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, false),
		featureflags.FlagUseNewPool: idFlag("to-new")})
	r := legacy.NewRouter(lp, ad, client)
	restore := legacy.Install(r)
	defer restore()
	old, young := e.server("to-legacy"), e.server("to-new")
	for _, s := range []*legacy.Server{old, young} {
		if _, err := legacy.GetConnectionManager().ExecuteCommand(s, false, "true"); err != nil {
			t.Fatal(err)
		}
	}
	st := legacy.GetConnectionPool().GetConnectionStatus()
	lk, nk := legacy.Key(old, false), legacy.Key(young, false)
	if len(st) != 2 || st[lk].Pool != legacy.PoolLegacy || st[nk].Pool != legacy.PoolNew || !st[lk].Healthy ||
		!st[nk].Healthy || st[lk].UseCount == 0 || st[nk].UseCount == 0 {
		t.Fatalf("status through the singleton: %+v", st)
	}
	if len(legacy.GetConnectionManager().GetConnectionStatus()) != 2 || legacy.GetConnectionPool().Len() != 0 {
		t.Fatal("the manager's status differs, or the singleton itself served")
	}
	legacy.GetConnectionPool().RemoveConnection(lk)
	if lp.Len() != 0 {
		t.Fatalf("RemoveConnection through the singleton left %d legacy connections", lp.Len())
	}
	if n := legacy.GetConnectionPool().CleanupStaleConnections(-time.Second); n != 0 || len(ad.GetConnectionStatus()) != 0 {
		t.Fatalf("cleanup through the singleton: removed %d, adapter status %v", n, ad.GetConnectionStatus())
	}
	legacy.GetConnectionPool().Stop()
	if _, err := legacy.GetConnectionPool().GetOrCreateConnection(old, false); !errors.Is(err, legacy.ErrPoolStopped) {
		t.Fatalf("after Stop through the singleton, legacy route: %v", err)
	}
	if _, err := legacy.GetConnectionPool().GetOrCreateConnection(young, false); !errors.Is(err, legacy.ErrPoolStopped) {
		t.Fatalf("after Stop through the singleton, new route: %v", err)
	}
	if np.GetSnapshot().Total == 0 {
		t.Fatal("the router's Stop must leave the new pool to its owner")
	}
}

// TestSeamShutdown: what package app does at shutdown (restore the seam,
// then stop the singleton) leaves old call sites with a "shutting down"
// error, not a working pool nobody will drain.
func TestSeamShutdown(t *testing.T) {
	resetSingleton(t)
	e := newEnv(t)
	r := legacy.NewRouter(e.legacyPool(t), adaptr(t, e), nil)
	restore := legacy.Install(r)
	conn, err := legacy.GetConnectionPool().GetOrCreateConnection(e.server("seam"), false)
	must(t, err)
	restore()
	must(t, legacy.GetConnectionPool().StopContext(context.Background()))
	_, err = legacy.GetConnectionManager().ExecuteCommand(e.server("seam"), false, "true")
	if !errors.Is(err, legacy.ErrPoolStopped) || !strings.Contains(err.Error(), "shutting down") ||
		failure.Classify(err) != failure.PoolClosed {
		t.Fatalf("old call site after shutdown: %v", err)
	}
	if out, err := conn.ExecuteCommand("echo held"); err != nil || out != "held\n" {
		t.Fatalf("a connection got before shutdown is the router's, still served: %q, %v", out, err)
	}
}
