package app

import (
	"net/http"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
)

// RoutesView is what /debug/routes reports.
type RoutesView struct {
	// Flags describes the flags the decisions come from.
	Flags FlagsView `json:"flags"`
	// Servers are the servers and roles the router has served, each with
	// its route now and why; Summary counts them.
	Servers []routes.Row   `json:"servers"`
	Summary routes.Summary `json:"summary"`
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

// Routes decides, now, every server the router has served, with the live
// flags, without changing any pool or the router's counters (the flag
// evaluations are counted as evaluations).
func (a *Admin) Routes(r *http.Request) RoutesView {
	var targets []routes.Target
	for _, s := range a.m.Router.Servers() {
		targets = append(targets, routes.Target{Server: s.Server, AsRoot: s.AsRoot})
	}
	t := routes.Evaluate(r.Context(), a.m.Client, targets)
	v := RoutesView{Servers: t.Rows, Summary: t.Summary}
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
