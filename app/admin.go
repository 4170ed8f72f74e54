package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/metrics"
	"github.com/sshpool/sshpool/providers"
)

// Admin is the admin HTTP server. It listens on admin.addr, by default
// DefaultAdminAddr (127.0.0.1 on a fixed port, so it can be scraped):
//
//	/             the admin page (pools, routing, history, events, config; see
//	              adminpage.go), reloading itself
//	/livez        200 while the process serves HTTP: a liveness probe. It
//	              checks nothing else, so an unreachable SSH host never
//	              gets a healthy process restarted.
//	/readyz       200 when ready, 503 when not: a readiness probe. Ready
//	              means every OnStart hook ran and no OnStop has begun
//	              (pools started, seam installed), the flag provider is
//	              ready, and the pool's last health verdict
//	              (pool.Pool.LastHealth: read, never probed per request) is
//	              not unhealthy. The JSON body lists each check; a check
//	              may carry a detail that is not a failure (see Check).
//	/healthz      an alias of /readyz, kept for existing probes (it used to
//	              run live SSH probes on every request; that report is now
//	              /debug/health).
//	/metrics      Prometheus exposition of the registry (the host's
//	              prometheus.Gatherer, or a private one with the sshpool
//	              collector); ?format=json gives Metrics as JSON
//	/debug/health a live pool.HealthCheck: probes every idle connection now
//	/debug/pool   the pool's connections (pool.EntryInfo, no secrets), config,
//	              snapshot and leases held past LeakThreshold (when set)
//	/debug/config the configuration in force as YAML, secrets redacted (with
//	              a ConfigStore, what it holds after each reload)
//	/debug/routes every known server (RoutesView.Servers: those the router
//	              has served, then the configured targets): its route now
//	              and why, with the flag document in force (origin, version, SHA-256,
//	              load time) and the flag source's health
//	/debug/pprof/ Go's profiles, only when admin.pprof is true (off by
//	              default: profiles reveal memory contents and cost CPU)
//
// NewAdmin does no I/O; Start listens and serves, Shutdown stops.
type Admin struct {
	cfg      Config
	store    *ConfigStore // nil: cfg is in force for the process's life
	events   *EventLog    // nil: the page lists no events
	m        *providers.Migration
	gatherer prometheus.Gatherer
	srv      *http.Server
	wg       sync.WaitGroup
	ready    atomic.Bool // every OnStart ran, no OnStop began

	// mu guards ln.
	mu sync.Mutex
	ln net.Listener
}

// AdminOption configures NewAdmin.
type AdminOption func(*Admin)

// WithConfigStore makes the admin server report the configuration s holds
// (what is in force after each reload) instead of the one it started with.
func WithConfigStore(s *ConfigStore) AdminOption {
	return func(a *Admin) { a.store = s }
}

// WithEventLog makes the admin page list the recent events l kept.
func WithEventLog(l *EventLog) AdminOption {
	return func(a *Admin) { a.events = l }
}

// WithGatherer makes /metrics serve g (the host's registry, say). Default:
// a private registry holding NewCollector(m).
func WithGatherer(g prometheus.Gatherer) AdminOption {
	return func(a *Admin) { a.gatherer = g }
}

// NewAdmin returns the admin server of m, listening on cfg.Admin.Addr once
// started.
func NewAdmin(cfg Config, m *providers.Migration, opts ...AdminOption) *Admin {
	a := &Admin{cfg: cfg, m: m}
	for _, o := range opts {
		o(a)
	}
	if a.gatherer == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(m))
		a.gatherer = reg
	}
	a.srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return a
}

// NewCollector returns the Prometheus collector over m's components: the
// new pool, the legacy pool, the router, the flag evaluation counters and,
// when the flags come from a file, its reload counters.
func NewCollector(m *providers.Migration) *metrics.Collector {
	src := metrics.Sources{Pool: m.Pool, Legacy: m.Legacy, Router: m.Router, FlagEvaluations: m.FlagMetrics}
	if fp, ok := m.FlagProvider.(*featureflags.FileProvider); ok {
		src.FlagProvider = fp
	}
	return metrics.NewCollector(src)
}

// Handler returns the admin routes, for tests and for embedding in another
// server.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", livez)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /healthz", a.readyz)
	mux.HandleFunc("GET /metrics", a.metrics)
	mux.HandleFunc("GET /debug/health", a.debugHealth)
	mux.HandleFunc("GET /debug/pool", a.debugPool)
	mux.HandleFunc("GET /debug/config", a.debugConfig)
	mux.HandleFunc("GET /debug/routes", a.debugRoutes)
	if a.cfg.Admin.Pprof {
		registerPprof(mux)
	}
	a.registerPage(mux)
	return mux
}

// Start listens on the configured address synchronously (a busy address
// fails here) and serves in a goroutine that Shutdown waits for.
func (a *Admin) Start(ctx context.Context) error {
	addr := a.cfg.Admin.Addr
	if addr == "" {
		addr = DefaultAdminAddr
	}
	ln, err := listen(ctx, addr)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.ln = ln
	a.mu.Unlock()
	serve(&a.wg, a.srv, ln)
	return nil
}

// Addr returns the address the server listens on, or "" before Start.
func (a *Admin) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Shutdown stops accepting, waits for requests in flight (bounded by ctx)
// and for the serving goroutine.
func (a *Admin) Shutdown(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	a.wg.Wait()
	return err
}

// markStarted and markStopping bracket readiness: Module runs the first
// as the last OnStart hook and the second as the first OnStop hook.
func (a *Admin) markStarted(context.Context) error  { a.ready.Store(true); return nil }
func (a *Admin) markStopping(context.Context) error { a.ready.Store(false); return nil }

func livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (a *Admin) readyz(w http.ResponseWriter, _ *http.Request) {
	rep := a.Readiness()
	code := http.StatusOK
	if !rep.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

func (a *Admin) debugHealth(w http.ResponseWriter, r *http.Request) {
	rep := a.m.Pool.HealthCheck(r.Context())
	code := http.StatusOK
	if !rep.Ready() {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

// debugPool reports the pool's config, snapshot, connections and, when
// leak tracking is on (LeakThreshold > 0), the leases held past it.
func (a *Admin) debugPool(w http.ResponseWriter, _ *http.Request) {
	cfg := a.m.Pool.Config()
	out := map[string]any{
		"config":   cfg,
		"snapshot": a.m.Pool.GetSnapshot(),
		"entries":  a.m.Pool.Entries(),
	}
	if cfg.LeakThreshold > 0 {
		out["possible_leaks"] = a.m.Pool.Leases(cfg.LeakThreshold)
	}
	writeJSON(w, http.StatusOK, out)
}

// config returns the configuration in force.
func (a *Admin) config() Config {
	if a.store != nil {
		return a.store.Current()
	}
	return a.cfg
}

func (a *Admin) debugConfig(w http.ResponseWriter, _ *http.Request) {
	b, err := Export(a.config())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
