package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const flagsAllNew = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}`

// fixture is an sshtest server registered as target "web", with a key
// file, a known_hosts file and a flag file sending everything to the new pool.
type fixture struct {
	srv        *sshtest.Server
	cfg        app.Config
	keyFile    string
	knownHosts string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := sshtest.NewServer(t)
	dir := t.TempDir()
	f := &fixture{srv: srv}
	var err error
	if f.keyFile, f.knownHosts, err = srv.WriteClientFiles(dir); err != nil {
		t.Fatal(err)
	}
	flagFile := filepath.Join(dir, "flags.json")
	os.WriteFile(flagFile, []byte(flagsAllNew), 0o600)
	cfg, err := app.Defaults("development")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Flags.File = flagFile
	cfg.Admin.Addr = "127.0.0.1:0"
	cfg.Pool.LeakThreshold = time.Hour
	cfg.Pool.WarmupKeys, cfg.Pool.WarmupConnections = []string{"web"}, 1
	cfg.Targets = map[string]app.TargetSection{"web": {Host: srv.Host(), Port: srv.Port(), User: "deploy",
		IdentityFiles: []string{f.keyFile}, KnownHosts: []string{f.knownHosts}, Password: "s3cret-pw"}}
	f.cfg = cfg
	return f
}

func (f *fixture) server(id string) *legacy.Server {
	return &legacy.Server{ID: id, Host: f.srv.Host(), Port: f.srv.Port(), AppUsername: "app",
		ManualKeyPath: f.keyFile, KnownHostsPath: f.knownHosts}
}

func TestValidateApp(t *testing.T) {
	f := newFixture(t)
	if err := fx.ValidateApp(app.Module(app.WithConfig(f.cfg))); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestModuleStartServeStop(t *testing.T) {
	f := newFixture(t)
	var (
		m     *providers.Migration
		admin *app.Admin
	)
	fxa := fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(f.cfg)), fx.Populate(&m, &admin)).RequireStart()
	if got := f.srv.Stats(); got.ConnsAccepted == 0 {
		t.Errorf("warm-up dialled nothing: %+v", got)
	}
	res, err := m.Pool.Run(context.Background(), "web", "whoami")
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "deploy" {
		t.Fatalf("pool run: %q, %v", res.Stdout, err)
	}
	if legacy.Provider() != legacy.ConnectionProvider(m.Router) {
		t.Fatal("the seam should serve the router while started")
	}
	conn, err := legacy.Provider().GetOrCreateConnection(f.server("web-1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := conn.ExecuteCommand("echo via router"); err != nil || out != "via router\n" {
		t.Fatalf("router command: %q, %v", out, err)
	}
	checkAdmin(t, "http://"+admin.Addr())
	fxa.RequireStop()
	if legacy.Provider() == legacy.ConnectionProvider(m.Router) {
		t.Error("the seam should be restored after stop")
	}
	if _, err := m.Pool.Run(context.Background(), "web", "true"); err == nil {
		t.Error("the pool should be closed after stop")
	}
}

func checkAdmin(t *testing.T, base string) {
	t.Helper()
	if code, body := get(t, base+"/livez"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/livez: %d %q", code, body)
	}
	for _, path := range []string{"/readyz", "/healthz"} {
		code, body := get(t, base+path)
		var rep app.Readiness
		if code != http.StatusOK || json.Unmarshal([]byte(body), &rep) != nil || !rep.Ready || len(rep.Checks) != 3 {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if code, body := get(t, base+"/debug/health"); code != http.StatusOK || !strings.Contains(body, `"checked"`) {
		t.Errorf("/debug/health: %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	for _, want := range []string{"# TYPE sshpool_gets_total counter", `sshpool_router_decisions_total{pool="new",reason="flag-on"}`,
		`sshpool_flag_evaluations_total{error_code="",flag="use-new-pool"`, "sshpool_flags 2",
		`sshpool_command_duration_seconds_bucket{pool="new",le="0.0001"}`, `sshpool_connections{pool="legacy",state="idle"}`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	var mt struct {
		Pool   struct{ Gets int64 }
		Router struct{ New int64 }
	}
	if _, body := get(t, base+"/metrics?format=json"); json.Unmarshal([]byte(body), &mt) != nil || mt.Pool.Gets == 0 || mt.Router.New == 0 {
		t.Errorf("/metrics?format=json: %s", body)
	}
	if code, body := get(t, base+"/debug/pool"); code != http.StatusOK || !strings.Contains(body, `"key": "web"`) ||
		!strings.Contains(body, `"possible_leaks"`) {
		t.Errorf("/debug/pool: %d %s", code, body)
	}
	code, body = get(t, base+"/debug/config")
	if code != http.StatusOK || strings.Contains(body, "s3cret-pw") || !strings.Contains(body, app.Redacted) {
		t.Errorf("/debug/config must redact secrets: %d %s", code, body)
	}
	var routes app.RoutesView
	code, body = get(t, base+"/debug/routes")
	if err := json.Unmarshal([]byte(body), &routes); err != nil || code != http.StatusOK {
		t.Fatalf("/debug/routes: %d %v\n%s", code, err, body)
	}
	// The server the router served, then the configured target no call has
	// named (as flags eval reads a config's targets).
	if len(routes.Servers) != 2 || routes.Servers[0].Server != "web-1" || !routes.Servers[0].Served ||
		routes.Servers[0].Route != "new" || routes.Servers[0].Reason != "flag-on" || routes.Summary.Servers != 2 {
		t.Errorf("/debug/routes servers: %s", body)
	}
	if c := routes.Servers[1]; c.Server != "web" || c.Served || c.Port == 0 || c.User != "deploy" || c.Route != "new" || c.Reason != "flag-on" {
		t.Errorf("/debug/routes configured target: %+v", c)
	}
	if d := routes.Flags.Document; d == nil || len(d.SHA256) != 64 || d.LoadedAt.IsZero() || !strings.HasSuffix(d.Origin, "flags.json") ||
		!strings.HasPrefix(d.Version, "mtime ") || !strings.HasPrefix(routes.Flags.Source, "file ") || !routes.Flags.Health.Connected {
		t.Errorf("/debug/routes flags: %s", body)
	}
	if code, _ := get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ served with admin.pprof off: %d", code)
	}
}

// TestModuleFailedStartRollsBack takes the admin port first: the last
// OnStart fails, the earlier hooks' OnStop run (seam restored, pool closed,
// flags shut down, wire cleanup), and goleak finds nothing left.
func TestModuleFailedStartRollsBack(t *testing.T) {
	f := newFixture(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	f.cfg.Admin.Addr = busy.Addr().String()
	var m *providers.Migration
	stops := &stopRecorder{}
	fxa := fx.New(fx.WithLogger(func() fxevent.Logger { return stops }), app.Module(app.WithConfig(f.cfg)), fx.Populate(&m))
	if err := fxa.Err(); err != nil {
		t.Fatal(err)
	}
	err = fxa.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "admin listen") {
		t.Fatalf("want the admin listen error, got %v", err)
	}
	if legacy.Provider() == legacy.ConnectionProvider(m.Router) {
		t.Error("seam not restored after a failed start")
	}
	if _, err := m.Pool.Run(context.Background(), "web", "true"); err == nil {
		t.Error("pool not closed after a failed start")
	}
	// Five hooks started (wire cleanup, flags, legacy, pool, seam) and all
	// five were stopped, in reverse.
	if got := stops.names(); len(got) != 5 {
		t.Errorf("OnStop hooks run in the rollback: %d %q, want 5", len(got), got)
	}
}

// stopRecorder is an fx event logger that records executed OnStop hooks.
type stopRecorder struct {
	mu    sync.Mutex // guards stops
	stops []string
}

func (r *stopRecorder) LogEvent(e fxevent.Event) {
	if e, ok := e.(*fxevent.OnStopExecuted); ok {
		r.mu.Lock()
		r.stops = append(r.stops, e.FunctionName)
		r.mu.Unlock()
	}
}

func (r *stopRecorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.stops...)
}

// TestModuleZeroConfig runs a Config built by hand (no Defaults): zero
// lifecycle durations must not expire the start context.
func TestModuleZeroConfig(t *testing.T) {
	fxtest.New(t, fx.NopLogger, app.Module(app.WithConfig(app.Config{Admin: app.AdminSection{Addr: "127.0.0.1:0"}}))).RequireStart().RequireStop()
}

func TestModuleInvalidFlagFileFailsConstruction(t *testing.T) {
	f := newFixture(t)
	os.WriteFile(f.cfg.Flags.File, []byte(`{"flags": {"kill-switch": {"state": "MAYBE"}}}`), 0o600)
	err := fx.New(fx.NopLogger, app.Module(app.WithConfig(f.cfg))).Err()
	if !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Fatalf("want ErrInvalidFlagFile, got %v", err)
	}
}
