package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sshpool/sshpool/providers"
)

// Admin is the admin HTTP server:
//
//	/             the admin page (pools, routing, history, events, config; see
//	              adminpage.go), refreshing itself
//	/healthz      pool.HealthCheck verdict: 200 when healthy or degraded, 503 when
//	              unhealthy (the pool is closed, or every key in demand has no
//	              usable connection and an open circuit; see pool.HealthStatus)
//	/metrics      Prometheus text exposition; ?format=json for JSON
//	/debug/pool   the pool's connections (pool.EntryInfo, no secrets), config,
//	              snapshot and leases held past LeakThreshold (when set)
//	/debug/config the configuration in force as YAML, secrets redacted (with
//	              a ConfigStore, what it holds after each reload)
//
// NewAdmin does no I/O; Start listens and serves, Shutdown stops.
type Admin struct {
	cfg    Config
	store  *ConfigStore // nil: cfg is in force for the process's life
	events *EventLog    // nil: the page lists no events
	m      *providers.Migration
	srv    *http.Server
	wg     sync.WaitGroup

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

// NewAdmin returns the admin server of m, listening on cfg.Admin.Addr once
// started.
func NewAdmin(cfg Config, m *providers.Migration, opts ...AdminOption) *Admin {
	a := &Admin{cfg: cfg, m: m}
	for _, o := range opts {
		o(a)
	}
	a.srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return a
}

// Handler returns the admin routes, for tests and for embedding in another
// server.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /metrics", a.metrics)
	mux.HandleFunc("GET /debug/pool", a.debugPool)
	mux.HandleFunc("GET /debug/config", a.debugConfig)
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

func (a *Admin) healthz(w http.ResponseWriter, r *http.Request) {
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
