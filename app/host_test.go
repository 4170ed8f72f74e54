package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/fx/fxtest"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// TestHostNestsModule: a host application nests app.Module inside its own
// fx.Module, next to its own components, with its own start and stop
// timeouts, its own fx event logger and slog logger, its own Config and
// its own Prometheus registry. Before issue 12 the module carried
// fx.StartTimeout/StopTimeout, and nesting it failed at fx.New with
// "fx.StopTimeout Option should be passed to top-level App, not to
// fx.Module". It starts, serves, and stops cleanly (goleak in TestMain).
func TestHostNestsModule(t *testing.T) {
	f := newFixture(t)
	var fxEvents, logs capture.Buffer
	reg := prometheus.NewRegistry()
	type hostService struct{ router *legacy.Router }
	var (
		svc   *hostService
		admin *app.Admin
	)
	fxa := fx.New(
		fx.StartTimeout(7*time.Second),
		fx.StopTimeout(9*time.Second),
		fx.WithLogger(func() fxevent.Logger {
			return &fxevent.SlogLogger{Logger: slog.New(slog.NewTextHandler(&fxEvents, nil))}
		}),
		fx.Module("host",
			fx.Supply(f.cfg),
			fx.Supply(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer)))),
			app.Module(),
			fx.Provide(func(r *legacy.Router) *hostService { return &hostService{router: r} }),
		),
		fx.Populate(&svc, &admin),
	)
	if err := fxa.Err(); err != nil {
		t.Fatalf("nesting app.Module: %v", err)
	}
	if fxa.StartTimeout() != 7*time.Second || fxa.StopTimeout() != 9*time.Second {
		t.Fatalf("timeouts %v/%v, want the host's 7s/9s", fxa.StartTimeout(), fxa.StopTimeout())
	}
	ctx, cancel := context.WithTimeout(context.Background(), fxa.StartTimeout())
	defer cancel()
	if err := fxa.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := svc.router.GetOrCreateConnection(f.server("web-1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := conn.ExecuteCommand("echo host"); err != nil || out != "host\n" {
		t.Fatalf("command through the host's router: %q, %v", out, err)
	}
	// The collector is in the host's registry, and /metrics serves it.
	if n, err := testutil.GatherAndCount(reg, "sshpool_command_duration_seconds"); err != nil || n == 0 {
		t.Errorf("host registry: %d command histograms, %v", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint on the live scrape: %s: %s", p.Metric, p.Text)
	}
	if code, body := get(t, "http://"+admin.Addr()+"/metrics"); code != http.StatusOK || !strings.Contains(body, `sshpool_router_decisions_total{pool="new",reason="flag-on"} `) ||
		strings.Contains(body, `sshpool_router_decisions_total{pool="new",reason="flag-on"} 0`) {
		t.Errorf("/metrics from the host's gatherer: %d\n%s", code, body)
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), fxa.StopTimeout())
	defer cancelStop()
	if err := fxa.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Errorf("%d series left in the host's registry after stop", n)
	}
	if !strings.Contains(fxEvents.String(), "started") || !strings.Contains(fxEvents.String(), "OnStop hook executed") {
		t.Errorf("host fx logger saw no lifecycle:\n%s", fxEvents.String())
	}
	if !strings.Contains(logs.String(), "pool dial") {
		t.Errorf("host slog logger saw no pool events:\n%s", logs.String())
	}
}

// TestModuleConfigSources: the module takes its Config from the graph,
// from WithConfig, or from WithLoader (file and SSHPOOL_ variables); a
// loader error fails fx.New naming the key; without any, fx.New reports
// the missing Config.
func TestModuleConfigSources(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "sshpool.yaml")
	os.WriteFile(path, []byte("admin:\n  addr: off\nflags:\n  file: "+f.cfg.Flags.File+"\n"), 0o600)
	var m *providers.Migration
	fxtest.New(t, fx.NopLogger, app.Module(app.WithLoader(app.LoadOptions{Path: path,
		Env: []string{"SSHPOOL_POOL__MAX_CONNECTIONS=7"}})), fx.Populate(&m)).RequireStart().RequireStop()
	if m.Config.MaxConnections != 7 {
		t.Errorf("loaded max_connections %d, want 7", m.Config.MaxConnections)
	}
	os.WriteFile(path, []byte("pool:\n  max_conections: 3\n"), 0o600)
	err := fx.New(fx.NopLogger, app.Module(app.WithLoader(app.LoadOptions{Path: path}))).Err()
	if err == nil || !strings.Contains(err.Error(), "max_conections") {
		t.Errorf("bad file: %v, want an error naming max_conections", err)
	}
	if err := fx.New(fx.NopLogger, app.Module()).Err(); err == nil || !strings.Contains(err.Error(), "app.Config") {
		t.Errorf("no config: %v, want a missing app.Config", err)
	}
}

// TestReadiness: /readyz fails before start, passes once started, and
// fails as soon as stopping begins; /livez passes throughout. A flag
// provider that cannot take changes adds a detail without failing.
func TestReadiness(t *testing.T) {
	f := newFixture(t)
	var (
		m     *providers.Migration
		admin *app.Admin
	)
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin))
	if rep := admin.Readiness(); rep.Ready || rep.Checks[0].OK {
		t.Errorf("ready before start: %+v", rep)
	}
	fxa.RequireStart()
	if rep := admin.Readiness(); !rep.Ready {
		t.Errorf("not ready after start: %+v", rep)
	}
	h := admin.Handler()
	m.FlagProvider = changeBlocked{m.FlagProvider}
	rep := readyz(t, h)
	if !rep.Ready || !strings.Contains(rep.Checks[1].Detail, "watch down") {
		t.Errorf("a flag source that cannot take changes: %+v, want ready with a detail", rep)
	}
	fxa.RequireStop()
	if rep := readyz(t, h); rep.Ready {
		t.Errorf("ready after stop: %+v", rep)
	}
}

// TestReadyzReadsThePoolVerdict: /readyz, /healthz and /livez probe
// nothing: a burst of requests to a healthy service sends no keepalive,
// runs no command and opens no connection (before issue 12, /healthz ran
// live SSH probes on every request). When the SSH host drops the pool's
// connections and refuses new logins, /readyz fails with the pool check as
// soon as the pool has found out (here a Get whose dial is refused), while
// /livez still passes.
func TestReadyzReadsThePoolVerdict(t *testing.T) {
	f := newFixture(t)
	// A failed login opens the circuit for an hour, and the health loop
	// ticks every 30 s: no background dial or probe during the test can
	// hide or imitate a probe made by a request.
	f.cfg.Pool.CircuitBaseCooldown, f.cfg.Pool.CircuitCooldown = time.Hour, time.Hour
	var m *providers.Migration
	var admin *app.Admin
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	base := "http://" + admin.Addr()
	burst := func(want int) {
		t.Helper()
		before := f.srv.Stats()
		for range 20 {
			for _, path := range []string{"/readyz", "/healthz"} {
				code, body := get(t, base+path)
				var rep app.Readiness
				if err := json.Unmarshal([]byte(body), &rep); err != nil || code != want || rep.Checks[2].Name != "pool" ||
					rep.Checks[2].OK != (want == http.StatusOK) {
					t.Fatalf("%s: %d %s, want %d", path, code, body, want)
				}
			}
			if code, _ := get(t, base+"/livez"); code != http.StatusOK {
				t.Fatalf("/livez %d", code)
			}
		}
		if after := f.srv.Stats(); after.ConnsAccepted != before.ConnsAccepted || after.Keepalives != before.Keepalives ||
			after.Execs != before.Execs {
			t.Errorf("the probes reached the SSH host: before %+v, after %+v", before, after)
		}
	}
	if s := m.Pool.GetSnapshot(); s.Idle != 1 {
		t.Fatalf("warm-up left %d idle connections, want 1", s.Idle)
	}
	burst(http.StatusOK)

	f.srv.FailAuth(true)
	f.srv.DropAll()
	deadline := time.Now().Add(10 * time.Second)
	for m.Pool.GetSnapshot().Total != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the death watcher removes the dropped connection
	}
	if _, err := m.Pool.Get(context.Background(), "web"); err == nil {
		t.Fatal("Get succeeded with logins refused")
	}
	burst(http.StatusServiceUnavailable)
}

// changeBlocked is a flag provider whose source is disconnected.
type changeBlocked struct{ openfeature.FeatureProvider }

func (changeBlocked) Stats() featureflags.ProviderStats {
	return featureflags.ProviderStats{Health: featureflags.SourceHealth{Detail: "watch down"}}
}

func readyz(t *testing.T, h http.Handler) app.Readiness {
	t.Helper()
	rec := &responseRecorder{header: http.Header{}}
	h.ServeHTTP(rec, httptestRequest(t, "/readyz"))
	var rep app.Readiness
	if err := json.Unmarshal(rec.body.Bytes(), &rep); err != nil {
		t.Fatalf("/readyz body %q: %v", rec.body.String(), err)
	}
	if (rec.code == http.StatusOK) != rep.Ready {
		t.Errorf("/readyz code %d for ready=%v", rec.code, rep.Ready)
	}
	return rep
}

// TestPprofSwitch: admin.pprof serves the index and named profiles.
func TestPprofSwitch(t *testing.T) {
	f := newFixture(t)
	f.cfg.Admin.Pprof = true
	var admin *app.Admin
	fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&admin)).RequireStart().RequireStop()
	h := admin.Handler()
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/goroutine?debug=1": "goroutine profile"} {
		rec := &responseRecorder{header: http.Header{}}
		h.ServeHTTP(rec, httptestRequest(t, path))
		if rec.code != http.StatusOK || !strings.Contains(rec.body.String(), want) {
			t.Errorf("%s: %d %.200s", path, rec.code, rec.body.String())
		}
	}
	rec := &responseRecorder{header: http.Header{}}
	h.ServeHTTP(rec, httptestRequest(t, "/debug/pprof/profile?seconds=600"))
	if rec.code != http.StatusBadRequest || !strings.Contains(rec.body.String(), "seconds") {
		t.Errorf("profile?seconds=600: %d %s", rec.code, rec.body.String())
	}
}

// TestObserversReachComponents: a providers.Observers in the graph adds
// its tracer to the pool (next to the slog one), its decision hook to the
// router and its flag hook to the flags API.
func TestObserversReachComponents(t *testing.T) {
	f := newFixture(t)
	obs := &observer{}
	var m *providers.Migration
	fxa := fxtest.New(t, fx.NopLogger, fx.Supply(slog.New(slog.DiscardHandler)),
		fx.Supply(providers.Observers{Tracer: obs.hooks(), DecisionHook: obs.decision, FlagHooks: []openfeature.Hook{obs}}),
		app.Module(app.WithConfig(f.cfg)), fx.Populate(&m)).RequireStart()
	conn, err := m.Router.GetOrCreateConnection(f.server("web-9"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecuteCommand("true"); err != nil {
		t.Fatal(err)
	}
	fxa.RequireStop()
	if obs.gets.Load() == 0 || obs.commands.Load() == 0 || obs.decisions.Load() == 0 || obs.evaluations.Load() == 0 {
		t.Errorf("gets %d commands %d decisions %d evaluations %d, want all > 0",
			obs.gets.Load(), obs.commands.Load(), obs.decisions.Load(), obs.evaluations.Load())
	}
}

// observer counts what reaches it.
type observer struct {
	openfeature.UnimplementedHook
	gets, commands, decisions, evaluations atomic.Int64
}

// hooks returns the pool hooks counting Gets and commands.
func (o *observer) hooks() *pool.Tracer {
	return &pool.Tracer{
		GetEnd:     func(context.Context, pool.GetData) { o.gets.Add(1) },
		CommandEnd: func(context.Context, pool.CommandData) { o.commands.Add(1) },
	}
}

func (o *observer) decision(legacy.Decision) { o.decisions.Add(1) }
func (o *observer) Finally(context.Context, openfeature.HookContext, openfeature.InterfaceEvaluationDetails, openfeature.HookHints) {
	o.evaluations.Add(1)
}

// TestModuleGathererOnly: a host that gives only its Gatherer (its own
// metrics) gets them and sshpool's on the admin server's /metrics.
func TestModuleGathererOnly(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "host_requests_total", Help: "Host requests."}))
	var admin *app.Admin
	fxa := fxtest.New(t, fx.NopLogger, fx.Supply(fx.Annotate(reg, fx.As(new(prometheus.Gatherer)))),
		app.Module(app.WithConfig(f.cfg)), fx.Populate(&admin)).RequireStart()
	defer fxa.RequireStop()
	code, body := get(t, "http://"+admin.Addr()+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "host_requests_total 0") || !strings.Contains(body, `sshpool_gets_total{pool="new"}`) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
}

// TestAdminDefaults: the admin server defaults to a fixed loopback port
// with pprof off; admin.pprof turns it on from a file or the environment.
func TestAdminDefaults(t *testing.T) {
	c, err := app.LoadConfig("", nil)
	if err != nil || c.Admin.Addr != "127.0.0.1:17022" || c.Admin.Pprof {
		t.Fatalf("defaults %+v, %v", c.Admin, err)
	}
	c, err = app.LoadConfig("", []string{"SSHPOOL_ADMIN__PPROF=true"})
	if err != nil || !c.Admin.Pprof {
		t.Fatalf("SSHPOOL_ADMIN__PPROF=true: %+v, %v", c.Admin, err)
	}
	if b, _ := app.Export(c); !strings.Contains(string(b), "pprof: true") {
		t.Errorf("export lacks admin.pprof:\n%s", b)
	}
}

// TestReadinessAfterRefusedDocument: a broken flag document (here the
// file; in a fleet, a document published around the CLI) is refused and
// the last good flags stay in force, so routing is unchanged and the
// instance stays ready, with the refusal as the detail. Failing readiness
// here would take every instance of a fleet out of service at once.
func TestReadinessAfterRefusedDocument(t *testing.T) {
	f := newFixture(t)
	var (
		m     *providers.Migration
		admin *app.Admin
	)
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	defer fxa.RequireStop()
	if err := os.WriteFile(f.cfg.Flags.File, []byte(`{"flags": `), 0o600); err != nil {
		t.Fatal(err)
	}
	rp := m.FlagProvider.(interface{ Reload() error })
	if err := rp.Reload(); err == nil {
		t.Fatal("a broken document was accepted")
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Client.State() != openfeature.ErrorState && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the SDK applies provider events asynchronously
	}
	if st := m.Client.State(); st != openfeature.ErrorState {
		t.Fatalf("client state %s after a refused document, want ERROR", st)
	}
	rep := readyz(t, admin.Handler())
	if !rep.Ready || !rep.Checks[1].OK || !strings.Contains(rep.Checks[1].Detail, "last document was refused") {
		t.Errorf("refused document with good flags in force: %+v, want ready with the refusal as detail", rep)
	}
	if m.Router.Decide(context.Background(), &legacy.Server{ID: "web-1", Host: "h", AppUsername: "u"}, false).Route != legacy.RouteNew {
		t.Error("routing changed after a refused document")
	}
}
