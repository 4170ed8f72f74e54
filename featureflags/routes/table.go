package routes

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/legacy"
)

// Target is one server and role to route.
type Target struct {
	Server legacy.Server
	AsRoot bool
}

// Row is the routing decision for one target.
type Row struct {
	Server string `json:"server"` // the server's ID (the flags' targeting key)
	Name   string `json:"name,omitempty"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	User   string `json:"user"`
	AsRoot bool   `json:"as_root"`
	// Route is "new" or "legacy"; Reason why (legacy.Reason's names:
	// flag-on, flag-off, kill-switch, flag-not-found, provider-not-ready,
	// eval-error).
	Route  string `json:"route"`
	Reason string `json:"reason"`
	// Flag decided, with Variant ("" when none).
	Flag    string `json:"flag"`
	Variant string `json:"variant,omitempty"`
	// Error is the evaluation error of a fallback.
	Error string `json:"error,omitempty"`
}

// Summary counts a table's rows.
type Summary struct {
	Servers   int `json:"servers"`
	New       int `json:"new"`
	Legacy    int `json:"legacy"`
	Fallbacks int `json:"fallbacks"` // legacy because evaluation failed
}

// Table is the routing of a set of targets.
type Table struct {
	Rows    []Row   `json:"servers"`
	Summary Summary `json:"summary"`
}

// Evaluate decides every target with flags, in order. It evaluates the
// flags (through the client's hooks, so they count them) but changes no
// pool and no router.
func Evaluate(ctx context.Context, flags openfeature.IClient, targets []Target) Table {
	r := legacy.NewRouter(nil, nil, flags) // decides only: no pools to drain
	defer r.Close()
	t := Table{Rows: make([]Row, 0, len(targets))}
	for _, tg := range targets {
		s := tg.Server
		d := r.Decide(ctx, &s, tg.AsRoot)
		row := Row{Server: s.ID, Name: s.Name, Host: s.Host, Port: s.EffectivePort(), User: s.User(tg.AsRoot),
			AsRoot: tg.AsRoot, Route: d.Route.String(), Reason: d.Reason.String(), Flag: d.Flag, Variant: d.Variant}
		if d.Err != nil {
			row.Error = d.Err.Error()
		}
		t.add(row, d.Reason.Fallback())
	}
	return t
}

func (t *Table) add(row Row, fallback bool) {
	t.Rows = append(t.Rows, row)
	t.Summary.Servers++
	if row.Route == legacy.RouteNew.String() {
		t.Summary.New++
	} else {
		t.Summary.Legacy++
	}
	if fallback {
		t.Summary.Fallbacks++
	}
}

// String is the summary as a sentence.
func (s Summary) String() string {
	return fmt.Sprintf("%d servers: %d to the new pool, %d to legacy (%d because evaluation failed)",
		s.Servers, s.New, s.Legacy, s.Fallbacks)
}

// Write prints the table (SERVER HOST USER ROUTE REASON VARIANT) and the
// summary.
func (t Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tHOST\tUSER\tROUTE\tREASON\tVARIANT")
	for _, r := range t.Rows {
		user := r.User
		if r.AsRoot {
			user += " (root)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Server, hostPort(r.Host, r.Port), user, r.Route, r.Reason, dash(r.Variant))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, t.Summary)
	return err
}

func hostPort(host string, port int) string { return host + ":" + strconv.Itoa(port) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
