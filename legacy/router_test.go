package legacy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// decisions collects what the decision hook saw.
type decisions struct {
	mu  sync.Mutex // guards all
	all []legacy.Decision
}

func (d *decisions) hook(x legacy.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = append(d.all, x)
}

func (d *decisions) last() legacy.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.all[len(d.all)-1]
}

// blockingProvider is a memprovider whose Init waits for release: until
// then the API reports it not ready.
type blockingProvider struct {
	*memprovider.InMemoryProvider
	release chan struct{}
}

func (p *blockingProvider) Init(openfeature.EvaluationContext) error {
	<-p.release
	return nil
}

func (p *blockingProvider) Shutdown() {}

func TestRouterDecisions(t *testing.T) {
	typeMismatch := boolFlag(featureflags.FlagUseNewPool, true)
	typeMismatch.Variants = map[string]any{"on": "yes", "off": "no"}
	for _, tc := range []struct {
		name   string
		flags  map[string]memprovider.InMemoryFlag
		route  legacy.Route
		reason legacy.Reason
	}{
		{"on", flagSet(100, false), legacy.RouteNew, legacy.ReasonFlagOn},
		{"off", flagSet(0, false), legacy.RouteLegacy, legacy.ReasonFlagOff},
		{"kill-switch", flagSet(100, true), legacy.RouteLegacy, legacy.ReasonKillSwitch},
		{"no-flags", nil, legacy.RouteLegacy, legacy.ReasonFlagNotFound},
		{"no-kill-switch", map[string]memprovider.InMemoryFlag{featureflags.FlagUseNewPool: percentFlag(100)},
			legacy.RouteLegacy, legacy.ReasonFlagNotFound},
		{"no-use-new-pool", map[string]memprovider.InMemoryFlag{featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, false)},
			legacy.RouteLegacy, legacy.ReasonFlagNotFound},
		{"type-mismatch", map[string]memprovider.InMemoryFlag{featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, false),
			featureflags.FlagUseNewPool: typeMismatch}, legacy.RouteLegacy, legacy.ReasonEvalError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := newFlags(t, tc.flags)
			checkDecision(t, client, tc.route, tc.reason)
		})
	}
	t.Run("nil-client", func(t *testing.T) {
		checkDecision(t, nil, legacy.RouteLegacy, legacy.ReasonProviderNotReady)
	})
	t.Run("provider-not-ready", func(t *testing.T) {
		api := isolated.NewAPI()
		p := &blockingProvider{memprovider.NewInMemoryProvider(flagSet(100, false)), make(chan struct{})}
		must(t, api.SetProvider(context.Background(), p))
		defer api.Shutdown(context.Background())
		defer close(p.release)
		checkDecision(t, api.NewClient(), legacy.RouteLegacy, legacy.ReasonProviderNotReady)
	})
}

func checkDecision(t *testing.T, client openfeature.IClient, route legacy.Route, reason legacy.Reason) {
	t.Helper()
	var seen decisions
	r := legacy.NewRouter(&stubProvider{}, &stubProvider{}, client, legacy.WithDecisionHook(seen.hook))
	s := &legacy.Server{ID: "d1", Host: "h", AppUsername: "app"}
	d := r.Decide(context.Background(), s, false)
	if d.Route != route || d.Reason != reason || (d.Err != nil) != reason.Fallback() {
		t.Fatalf("decision = %v/%v err %v; want %v/%v", d.Route, d.Reason, d.Err, route, reason)
	}
	if h := seen.last(); h.Route != route || h.Reason != reason || h.Server != s || h.Latency <= 0 {
		t.Errorf("hook saw %+v", h)
	}
	st := r.Stats()
	if st.Decisions != 1 || st.ByReason[route][reason] != 1 || (st.Fallbacks == 1) != reason.Fallback() {
		t.Errorf("stats = %+v", st)
	}
	if len(st.ByVariant) != 1 || st.ByVariant[0].Count != 1 || st.ByVariant[0].Variant != d.Variant {
		t.Errorf("by variant = %+v (decision variant %q)", st.ByVariant, d.Variant)
	}
}

// TestRouterEvaluationContext: the flags see the server ID as targeting
// key and host, port, user, asRoot and serverName.
func TestRouterEvaluationContext(t *testing.T) {
	var got openfeature.FlattenedContext
	f := boolFlag(featureflags.FlagUseNewPool, false)
	eval := func(_ memprovider.InMemoryFlag, fc openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		got = fc
		return true, openfeature.ProviderResolutionDetail{Variant: "on", Reason: openfeature.TargetingMatchReason}
	}
	f.ContextEvaluator = &eval
	client, _ := newFlags(t, map[string]memprovider.InMemoryFlag{
		featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, false), featureflags.FlagUseNewPool: f})
	r := legacy.NewRouter(&stubProvider{}, &stubProvider{}, client)
	s := &legacy.Server{ID: "db-7", Name: "db seven", Host: "10.1.2.3", Port: 2200, RootUsername: "root", AppUsername: "svc"}
	r.Decide(context.Background(), s, true)
	want := map[string]any{openfeature.TargetingKey: "db-7", "host": "10.1.2.3", "port": 2200,
		"user": "root", "asRoot": true, "serverName": "db seven"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context[%s] = %#v; want %#v", k, got[k], v)
		}
	}
}

// TestRouterDrainsOnRouteChange: when a key moves to the new pool its idle
// legacy connection is closed, and when it moves back the new pool is asked
// to drop its idle connection.
func TestRouterDrainsOnRouteChange(t *testing.T) {
	e := newEnv(t)
	lp := e.legacyPool(t)
	ad, leases := e.minimalAdapter(t)
	client, flags := newFlags(t, flagSet(0, false))
	var changes []string
	r := legacy.NewRouter(lp, ad, client, legacy.WithRouteChangeHook(func(s *legacy.Server, asRoot bool, from, to legacy.Route) {
		changes = append(changes, s.ID+":"+from.String()+"->"+to.String())
	}))
	s := e.server("drain")
	conn := connect(t, r, s, false)
	run := func(want string) {
		t.Helper()
		if out, err := conn.ExecuteCommand("echo " + want); err != nil || out != want+"\n" {
			t.Fatalf("ExecuteCommand = %q, %v", out, err)
		}
	}
	run("legacy")
	if lp.Len() != 1 {
		t.Fatalf("legacy pool has %d connections", lp.Len())
	}
	flags.UpdateFlags(flagSet(100, false))
	run("new")
	if lp.Len() != 0 || leases.outstanding() != 0 {
		t.Fatalf("after move to new: legacy len %d, leases %d", lp.Len(), leases.outstanding())
	}
	flags.UpdateFlags(flagSet(100, true))
	run("back") // the cached legacy connection was closed by the drain: re-got
	st := r.Stats()
	if len(changes) != 2 || st.RouteChanges != 2 || st.Drained != 2 || lp.Len() != 1 {
		t.Fatalf("changes %v, stats %+v, legacy len %d", changes, st, lp.Len())
	}
}

// TestRouterStatusAndCleanup: the router reports both pools' keys and
// cleans both.
func TestRouterStatusAndCleanup(t *testing.T) {
	e := newEnv(t)
	lp := e.legacyPool(t)
	ad, _ := e.adapter(t)
	client, _ := newFlags(t, flagSet(100, false))
	r := legacy.NewRouter(lp, ad, client)
	connect(t, lp, e.server("st-legacy"), false)
	if _, err := connect(t, r, e.server("st-new"), false).ExecuteCommand("true"); err != nil {
		t.Fatal(err)
	}
	st := r.GetConnectionStatus()
	if len(st) != 2 || !st[legacy.Key(e.server("st-new"), false)].Healthy {
		t.Fatalf("status = %+v", st)
	}
	if n := r.CleanupStaleConnections(-time.Second); n != 1 || lp.Len() != 0 {
		t.Fatalf("cleanup removed %d, legacy len %d", n, lp.Len())
	}
}

// TestRouterServers: the router remembers each server and role it was
// asked for (one entry per key, sorted), not those only decided for.
func TestRouterServers(t *testing.T) {
	client, _ := newFlags(t, map[string]memprovider.InMemoryFlag{})
	r := legacy.NewRouter(&stubProvider{}, &stubProvider{}, client)
	web := &legacy.Server{ID: "web-1", Host: "10.0.0.1", AppUsername: "svc", RootUsername: "root"}
	db := &legacy.Server{ID: "db-1", Host: "10.0.0.2", AppUsername: "svc"}
	for _, c := range []struct {
		s    *legacy.Server
		root bool
	}{{web, false}, {db, false}, {web, true}, {web, false}} {
		_, _ = r.GetOrCreateConnection(c.s, c.root) // the stubs refuse to connect; the server is still known
	}
	r.Decide(context.Background(), &legacy.Server{ID: "other", Host: "h", AppUsername: "u"}, false)
	got := r.Servers()
	if len(got) != 3 || got[0].Server.ID != "web-1" || got[0].AsRoot || got[1].Server.ID != "web-1" || !got[1].AsRoot ||
		got[2].Server.ID != "db-1" || got[2].Server.Host != "10.0.0.2" {
		t.Errorf("Servers() = %+v", got)
	}
}
