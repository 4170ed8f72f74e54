package app

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// The admin page: what an operator keeps open during a rollout. It is one
// server-rendered HTML page (html/template, embedded stylesheet, no
// JavaScript) that reloads itself every few seconds (a meta refresh;
// ?refresh=N sets the period, 0 turns it off).

//go:embed adminpage
var adminAssets embed.FS

// adminPageTemplate is parsed once, at package start; a broken template
// is a programmer error caught by every test.
var adminPageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"ago":   ago,
	"ms":    func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) },
	"clock": func(t time.Time) string { return t.Format("15:04:05") },
}).ParseFS(adminAssets, "adminpage/page.html"))

const (
	defaultPageRefresh = 1  // seconds
	maxPageRefresh     = 60 // seconds
	// pageEvents is how many recent events the page lists.
	pageEvents = 40
	// routingTimeout bounds the routing table's flag evaluations.
	routingTimeout = 2 * time.Second
)

// registerPage adds the page ("/") and its assets ("/assets/") to mux.
func (a *Admin) registerPage(mux *http.ServeMux) {
	assets, _ := fs.Sub(adminAssets, "adminpage") // a constant, present path
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", a.page)
}

// page renders the admin page.
func (a *Admin) page(w http.ResponseWriter, r *http.Request) {
	refresh := defaultPageRefresh
	if v := r.URL.Query().Get("refresh"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPageRefresh {
			http.Error(w, fmt.Sprintf("refresh=%q: want 0..%d seconds", v, maxPageRefresh), http.StatusBadRequest)
			return
		}
		refresh = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), routingTimeout)
	defer cancel()
	data := a.pageData(r.WithContext(ctx), refresh)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// No script at all; styles and the icon from this server only.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'")
	w.Header().Set("Cache-Control", "no-store")
	if err := adminPageTemplate.Execute(w, data); err != nil {
		// Headers are sent; the page is cut. Only a write error gets here.
		return
	}
}

// pageData is what the page shows.
type pageData struct {
	Now     time.Time
	Refresh int
	New     newPoolView
	Legacy  legacyView
	Routing routingView
	Chart   chartView
	Events  []Event
	Leaks   []pool.LeaseInfo
	// LeakThreshold is the pool's; zero when leak reports are off.
	LeakThreshold time.Duration
	Config        string
}

func (a *Admin) pageData(r *http.Request, refresh int) pageData {
	p := a.m.Pool
	cfg := p.Config()
	d := pageData{Now: time.Now(), Refresh: refresh, New: newPoolViewOf(p), Legacy: legacyViewOf(a.m.Legacy),
		Routing: a.routing(r), Chart: chartOf(p.History(), p.GetSnapshot()), LeakThreshold: cfg.LeakThreshold}
	if cfg.LeakThreshold > 0 {
		d.Leaks = p.Leases(cfg.LeakThreshold)
	}
	if a.events != nil {
		ev := a.events.Events()
		slices.Reverse(ev)
		d.Events = ev[:min(len(ev), pageEvents)]
	}
	if b, err := Export(a.config()); err == nil {
		d.Config = string(b)
	} else {
		d.Config = err.Error()
	}
	return d
}

// newPoolView is the new pool: totals, a verdict and one row per key.
type newPoolView struct {
	Snapshot pool.Snapshot
	Verdict  string // "ok", "degraded" or "closed"
	Keys     []keyRow
}

// keyRow counts one key's connections by state.
type keyRow struct {
	Key                               string
	Idle, Active, Draining, Unhealthy int
	Leases, Uses, HealthFailures      int64
	AvgRTT                            time.Duration
}

func newPoolViewOf(p pool.Pool) newPoolView {
	v := newPoolView{Snapshot: p.GetSnapshot(), Verdict: "ok"}
	rows := map[string]*keyRow{}
	for _, e := range p.Entries() {
		r := rows[e.Key]
		if r == nil {
			r = &keyRow{Key: e.Key}
			rows[e.Key] = r
		}
		switch e.State {
		case pool.StateIdle:
			r.Idle++
		case pool.StateActive:
			r.Active++
		case pool.StateDraining:
			r.Draining++
		case pool.StateUnhealthy:
			r.Unhealthy++
		}
		r.Leases += e.Leases
		r.Uses += e.UseCount
		r.HealthFailures += e.HealthFailures
		r.AvgRTT = max(r.AvgRTT, e.AvgRTT)
	}
	for _, r := range rows {
		v.Keys = append(v.Keys, *r)
	}
	slices.SortFunc(v.Keys, func(a, b keyRow) int { return strings.Compare(a.Key, b.Key) })
	if v.Snapshot.Unhealthy > 0 {
		v.Verdict = "degraded"
	}
	return v
}

// legacyView is the legacy pool: its counters and one row per connection.
type legacyView struct {
	Stats legacy.PoolStats
	Conns []legacyRow
}

// legacyRow is one legacy connection (a server and user).
type legacyRow struct {
	Key string
	legacy.ConnectionHealthStatus
}

func legacyViewOf(p *legacy.ConnectionPool) legacyView {
	v := legacyView{Stats: p.Stats()}
	for k, st := range p.GetConnectionStatus() {
		v.Conns = append(v.Conns, legacyRow{Key: k, ConnectionHealthStatus: st})
	}
	slices.SortFunc(v.Conns, func(a, b legacyRow) int { return strings.Compare(a.Key, b.Key) })
	return v
}

// routingView is the flag source and the routing table: /debug/routes'
// view (Admin.Routes) with the router's counters and where each server is
// connected.
type routingView struct {
	Source  *featureflags.ProviderStats // nil: no flag file (every call goes to legacy)
	Router  legacy.RouterStats
	Summary routes.Summary
	Servers []routeRow
}

// routeRow is one known server (RoutesView.Servers), the route a call
// would take now and why, and which pools hold it (a legacy connection, or
// a key the new pool has served).
type routeRow struct {
	RouteRow
	Addr            string
	OnLegacy, OnNew bool
}

// routing decides every known server now, as /debug/routes does (no pool
// or router counter changes).
func (a *Admin) routing(r *http.Request) routingView {
	v := routingView{Router: a.m.Router.Stats()}
	if fp, ok := a.m.FlagProvider.(*featureflags.Provider); ok {
		st := fp.Stats()
		v.Source = &st
	}
	rv := a.Routes(r)
	v.Summary = rv.Summary
	legacyKeys := a.m.Legacy.GetConnectionStatus()
	newKeys := a.m.Adapter.GetConnectionStatus()
	for _, row := range rv.Servers {
		s := &legacy.Server{ID: row.Server, Host: row.Host, Port: row.Port}
		key := legacy.Key(s, row.AsRoot)
		_, onLegacy := legacyKeys[key]
		_, onNew := newKeys[key]
		v.Servers = append(v.Servers, routeRow{RouteRow: row, Addr: s.Addr(), OnLegacy: onLegacy, OnNew: onNew})
	}
	return v
}

// ago prints how long before now t was, coarsely.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh ago", int(d.Hours()))
}
