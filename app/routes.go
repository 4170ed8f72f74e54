package app

import (
	"maps"
	"net/http"
	"slices"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/legacy"
)

// RoutesView is what /debug/routes reports.
type RoutesView struct {
	// Flags describes the flags the decisions come from.
	Flags FlagsView `json:"flags"`
	// Servers are the known servers, each with its route now and why: the
	// servers and roles the router has served (Served), then the
	// configuration's targets it has not, read as servers the way "sshpool
	// flags eval --servers CONFIG" reads them (routes.TargetServer, the
	// app role). Summary counts them.
	Servers []RouteRow     `json:"servers"`
	Summary routes.Summary `json:"summary"`
}

// RouteRow is one known server's decision.
type RouteRow struct {
	routes.Row
	// Served reports whether the router has served this server and role;
	// false for a configured target no call has named yet.
	Served bool `json:"served"`
}

// FlagsView is the flag document in force and its source.
type FlagsView struct {
	// Source names the flag source ("" when none is configured: every call
	// routes to legacy).
	Source string `json:"source"`
	// Document is the document in force.
	Document *featureflags.DocumentInfo `json:"document,omitempty"`
	// Health is the source's state; LastError the last refused or
	// unreadable document ("" when the last attempt loaded).
	Health    *featureflags.SourceHealth `json:"health,omitempty"`
	LastError string                     `json:"last_error,omitempty"`
	// FlagsWithRuleErrors are flags whose rules have errors: they evaluate
	// to their defaults or an error.
	FlagsWithRuleErrors []string `json:"flags_with_rule_errors,omitempty"`
}

// Routes decides, now, every known server (RoutesView.Servers) with the
// live flags, without changing any pool or the router's counters (the
// flag evaluations are counted as evaluations).
func (a *Admin) Routes(r *http.Request) RoutesView {
	targets, served := knownTargets(a.m.Router.Servers(), a.config().Targets)
	t := routes.Evaluate(r.Context(), a.m.Client, targets)
	v := RoutesView{Servers: make([]RouteRow, len(t.Rows)), Summary: t.Summary}
	for i, row := range t.Rows {
		v.Servers[i] = RouteRow{Row: row, Served: i < served}
	}
	if p, ok := a.m.FlagProvider.(*featureflags.Provider); ok {
		st := p.Stats()
		v.Flags = FlagsView{Source: st.Source, Document: &st.Document, Health: &st.Health,
			LastError: st.LastError, FlagsWithRuleErrors: st.FlagsWithRuleErrors}
	}
	return v
}

func (a *Admin) debugRoutes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Routes(r))
}

// knownTargets lists the servers the router has served, in its order, then
// the configured targets not among them (by server ID, app role), sorted
// by key; served is how many of the first are the router's.
func knownTargets(routed []legacy.RoutedServer, configured map[string]TargetSection) (targets []routes.Target, served int) {
	seen := make(map[string]bool, len(routed))
	for _, s := range routed {
		targets = append(targets, routes.Target{Server: s.Server, AsRoot: s.AsRoot})
		if !s.AsRoot {
			seen[s.Server.ID] = true
		}
	}
	served = len(targets)
	for _, key := range slices.Sorted(maps.Keys(configured)) {
		if t := configured[key]; !seen[key] {
			targets = append(targets, routes.Target{Server: routes.TargetServer(key, t.Host, t.Port, t.User)})
		}
	}
	return targets, served
}
