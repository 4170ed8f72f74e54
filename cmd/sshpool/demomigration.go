package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

// The migration part of the demo: old call sites
// (legacy.GetConnectionPool().GetOrCreateConnection, unchanged) served by
// the router between the legacy pool and the new pool, as the flags say.

// demoServers are the servers the old code calls; all are the embedded
// SSH server, each with its own ID (so its own pool key and its own
// rollout bucket).
var demoServers = []string{"web-1", "web-2", "web-3", "web-4", "web-5", "web-6"}

// The flag documents of the three steps (flagd's format).
const (
	flagsAllLegacy = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}`
	flagsRollout = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 50], ["off", 50]]}}}}`
	flagsKilled = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 50], ["off", 50]]}}}}`
)

// demoStep is one stage of the migration and the calls made in it.
type demoStep struct {
	Name    string     `json:"name"`
	Explain string     `json:"explain"`
	Calls   []demoCall `json:"calls"`
}

// demoCall is one old-API call: which pool served it and why.
type demoCall struct {
	Server string `json:"server"`
	Pool   string `json:"pool"`   // "legacy" or "new"
	Reason string `json:"reason"` // the router's reason: flag-off, flag-on, kill-switch, ...
	Output string `json:"output"`
}

// migrationDemo is the router, both pools and the flag file behind them.
type migrationDemo struct {
	m     *providers.Migration
	flags string
	emb   *embedded
}

// runMigrationDemo runs the three steps and returns them with both pools'
// statistics.
func runMigrationDemo(ctx context.Context, emb *embedded, say func(string, ...any)) ([]demoStep, poolsReport, error) {
	d := &migrationDemo{flags: filepath.Join(emb.dir, "demo-flags.json"), emb: emb}
	if err := os.WriteFile(d.flags, []byte(flagsAllLegacy), 0o600); err != nil {
		return nil, poolsReport{}, err
	}
	cfg, err := app.Defaults("development")
	if err != nil {
		return nil, poolsReport{}, err
	}
	cfg.Flags.File = d.flags
	cfg.Router.DecisionCache = 0 // every call evaluates the flags: the demo flips them between calls
	m, cleanup, err := sshpool.InitializeMigration(cfg.Providers(nil))
	if err != nil {
		return nil, poolsReport{}, err
	}
	defer cleanup()
	d.m = m
	if err := m.Flags.Start(ctx); err != nil {
		return nil, poolsReport{}, err
	}
	restore := legacy.Install(m.Router) // what app.Module does at start-up
	defer restore()

	say("\nThe migration: old code calls legacy.GetConnectionPool().GetOrCreateConnection(server, false),\n" +
		"unchanged; the router installed behind it picks the legacy pool or the new pool per call, from flags.\n")
	var steps []demoStep
	for _, st := range []struct{ name, doc, explain string }{
		{"all legacy", flagsAllLegacy, "use-new-pool is off: every call stays on the legacy pool, as before the migration."},
		{"rollout 50%", flagsRollout, "use-new-pool splits servers 50/50 by a hash of their ID (flagd's fractional): " +
			"a server stays on its side on every call and every instance."},
		{"kill switch", flagsKilled, "kill-switch is on: every call goes back to the legacy pool at once, whatever the rollout says."},
	} {
		step, err := d.step(ctx, st.name, st.doc, st.explain, say)
		if err != nil {
			return steps, poolsReport{}, err
		}
		steps = append(steps, step)
	}
	return steps, poolsOf(m), nil
}

// step puts doc in force and calls every server twice.
func (d *migrationDemo) step(ctx context.Context, name, doc, explain string, say func(string, ...any)) (demoStep, error) {
	if err := d.setFlags(ctx, doc); err != nil {
		return demoStep{}, err
	}
	say("\n== %s: %s\n", name, explain)
	st := demoStep{Name: name, Explain: explain}
	for round := range 2 {
		for _, id := range demoServers {
			c, err := d.call(id)
			if err != nil {
				return st, fmt.Errorf("%s: %s: %w", name, id, err)
			}
			st.Calls = append(st.Calls, c)
			if round == 0 {
				say("  %-6s -> %-6s pool  (%s)  %s\n", c.Server, c.Pool, c.Reason, c.Output)
			}
		}
	}
	say("  (each server called twice: the second round went the same way)\n")
	return st, nil
}

// setFlags writes doc and has the provider load it now (the file watcher
// would within its debounce).
func (d *migrationDemo) setFlags(ctx context.Context, doc string) error {
	if err := os.WriteFile(d.flags, []byte(doc), 0o600); err != nil {
		return err
	}
	fp, ok := d.m.FlagProvider.(*featureflags.Provider)
	if !ok {
		return errors.New("the flag provider is not the file provider")
	}
	return fp.ReloadContext(ctx)
}

// call is one old-API call for server id; the router's counters tell which
// pool served it and why.
func (d *migrationDemo) call(id string) (demoCall, error) {
	before := d.m.Router.Stats()
	conn, err := legacy.GetConnectionPool().GetOrCreateConnection(d.server(id), false)
	if err != nil {
		return demoCall{}, err
	}
	out, err := conn.ExecuteCommand("echo hello from " + id)
	if err != nil {
		return demoCall{}, err
	}
	route, reason := decisionDelta(before, d.m.Router.Stats())
	return demoCall{Server: id, Pool: route, Reason: reason, Output: strings.TrimSpace(out)}, nil
}

// server is the old code's description of server id: the embedded server,
// its host key checked strictly against the demo's known_hosts file.
func (d *migrationDemo) server(id string) *legacy.Server {
	return &legacy.Server{ID: id, Name: id, Host: d.emb.srv.Host(), Port: d.emb.srv.Port(), AppUsername: "demo",
		ManualKeyPath: d.emb.keyFile(), KnownHostsPath: d.emb.knownHosts(), SecurityLocked: true}
}

// decisionDelta finds the route and reason a single call added.
func decisionDelta(before, after legacy.RouterStats) (route, reason string) {
	for r := range after.ByReason {
		for why := range after.ByReason[r] {
			if after.ByReason[r][why] > before.ByReason[r][why] {
				return legacy.Route(r).String(), legacy.Reason(why).String()
			}
		}
	}
	return "?", "?"
}
