package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshconn"
)

// compareEnv is what every contender of bench --compare runs against: the
// whole migration graph (pool, legacy pool, adapter) built for the target,
// and the target itself for the contenders that dial on their own.
type compareEnv struct {
	key, cmd    string
	concurrency int
	timeout     time.Duration
	m           *providers.Migration
	target      sshconn.Target
	// configured is whether key is a target of the config file (or the
	// embedded server), as opposed to an ssh_config alias or user@host.
	configured bool
	factory    *sshconn.Factory
	server     *legacy.Server
}

// contender is one way of running the workload. setup prepares it; the
// returned op runs one command; teardown releases what setup made. Each
// contender runs one command per goroutine of the run before the rounds,
// unmeasured, so that every one starts warm (warm).
type contender struct {
	name  string
	setup func(ctx context.Context, env *compareEnv) (op func(context.Context) error, teardown func(), err error)
}

// contenders lists the ways bench --compare runs commands, the pool first
// (ratios are to it).
func contenders() []contender {
	return []contender{
		{"pool", setupPool},
		{"x/crypto client", setupRawClient},
		{"legacy pool", setupLegacy},
		{"adapter", setupAdapter},
		{"dial per command", setupDialPerCommand},
		{"OpenSSH ControlMaster", setupControlMaster},
	}
}

// compareResult is bench --compare --json's document.
type compareResult struct {
	Key         string            `json:"key"`
	Command     string            `json:"command"`
	Count       int               `json:"count"`
	Concurrency int               `json:"concurrency"`
	Rounds      int               `json:"rounds"`
	Contenders  []contenderResult `json:"contenders"`
	// Chart is the SVG file written, if any.
	Chart string `json:"chart,omitempty"`
}

// contenderResult is one contender's figures; Skipped says why it did not
// run.
type contenderResult struct {
	Name    string `json:"name"`
	Skipped string `json:"skipped,omitempty"`
	benchStats
	// RatioToPool is OpsPerSecond divided by the pool's.
	RatioToPool float64 `json:"ratio_to_pool,omitempty"`
}

// runCompare runs the workload through every contender in interleaved
// rounds and reports the table (or JSON) and the chart.
func runCompare(ctx context.Context, t *poolTarget, o benchOptions, stdout, stderr io.Writer) error {
	env, closeEnv, err := openCompareEnv(ctx, t, o, stderr)
	if err != nil {
		return err
	}
	defer closeEnv()
	all := contenders()
	ops := make([]func(context.Context) error, len(all))
	results := make([]contenderResult, len(all))
	for i, c := range all {
		results[i].Name = c.name
		op, teardown, err := c.setup(ctx, env)
		if err != nil {
			results[i].Skipped = err.Error()
			fmt.Fprintf(stderr, "bench: %s: %v\n", c.name, err)
			continue
		}
		defer teardown()
		ops[i] = withTimeout(o.timeout, op)
		if err := warm(ctx, env, op); err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", c.name, err)
		}
	}
	recs := runRounds(ctx, o, ops, results, stderr)
	for i := range results {
		if ops[i] != nil {
			results[i].benchStats = recs[i].stats()
		}
	}
	setRatios(results)
	r := compareResult{Key: o.key, Command: o.cmd, Count: o.n, Concurrency: o.c, Rounds: o.rounds, Contenders: results}
	if o.chart != "" {
		if err := writeChart(o.chart, r); err != nil {
			return err
		}
		r.Chart = o.chart
		fmt.Fprintf(stderr, "bench: chart written to %s\n", o.chart)
	}
	if o.asJSON {
		if err := writeJSON(stdout, r); err != nil {
			return err
		}
	} else {
		printCompare(stdout, r)
	}
	if pool := results[0]; pool.Failed > 0 && pool.NotRun == 0 {
		return fmt.Errorf("the pool: %w", pool.err())
	}
	if interrupted(results) {
		return errors.New("interrupted: some commands did not run")
	}
	return nil
}

// interrupted reports whether a contender has commands not run.
func interrupted(results []contenderResult) bool {
	return slices.ContainsFunc(results, func(c contenderResult) bool { return c.NotRun > 0 })
}

// runRounds runs o.n commands per contender, split into o.rounds rounds;
// each round runs every contender in turn, starting one later each round.
func runRounds(ctx context.Context, o benchOptions, ops []func(context.Context) error, results []contenderResult, stderr io.Writer) []*recorder {
	recs := make([]*recorder, len(ops))
	running := 0
	for i := range recs {
		recs[i] = &recorder{}
		if ops[i] != nil {
			running++
		}
	}
	bar := newProgress(stderr, o.n*running, "bench --compare")
	defer bar.finish()
	for r := range o.rounds {
		n := o.n / o.rounds
		if r == o.rounds-1 {
			n = o.n - n*(o.rounds-1)
		}
		for j := range ops {
			i := (j + r) % len(ops)
			switch {
			case ops[i] == nil:
				continue
			case ctx.Err() != nil: // interrupted
				recs[i].skip(n)
				continue
			}
			bar.describe(results[i].Name)
			recs[i].run(ctx, n, o.c, bar.add, ops[i])
		}
	}
	return recs
}

// setRatios divides each contender's throughput by the pool's.
func setRatios(results []contenderResult) {
	base := results[0].OpsPerSecond
	if base == 0 {
		return
	}
	for i := range results {
		results[i].RatioToPool = results[i].OpsPerSecond / base
	}
}

// openCompareEnv builds the migration graph for the target and resolves
// the key once for the contenders that dial on their own.
func openCompareEnv(ctx context.Context, t *poolTarget, o benchOptions, stderr io.Writer) (*compareEnv, func(), error) {
	cfg, _, closeEmb, err := t.prepare(o.key, stderr)
	if err != nil {
		return nil, nil, err
	}
	// The old API takes no context: --timeout bounds its commands as the
	// legacy pool's and the adapter's command timeout.
	cfg.Legacy.CommandTimeout = o.timeout
	m, cleanup, err := sshpool.InitializeMigration(cfg.Providers(nil))
	if err != nil {
		closeEmb()
		return nil, nil, err
	}
	closeAll := func() { cleanup(); closeEmb() }
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tg, err := sshconn.DefaultResolver(m.Registry).Resolve(rctx, o.key)
	if err != nil {
		closeAll()
		return nil, nil, explainKey(err, o.key, targetKeys(cfg))
	}
	_, configured := cfg.Targets[o.key]
	env := &compareEnv{key: o.key, cmd: o.cmd, concurrency: o.c, timeout: o.timeout, m: m, target: tg,
		configured: configured, factory: providers.NewFactory(m.Registry), server: legacyServer(tg)}
	return env, closeAll, nil
}

// legacyServer describes the target as the old service's Server, for the
// legacy pool and the adapter (key and agent authentication: the first
// identity file and known_hosts file of the target; host keys checked
// strictly).
func legacyServer(t sshconn.Target) *legacy.Server {
	s := &legacy.Server{ID: "bench", Name: t.Key, Host: t.Host, Port: t.Port, AppUsername: t.User,
		UseSSHAgent: t.Auth.Agent, SecurityLocked: true}
	if len(t.Auth.IdentityFiles) > 0 {
		s.ManualKeyPath = t.Auth.IdentityFiles[0]
	}
	if len(t.KnownHostsFiles) > 0 {
		s.KnownHostsPath = t.KnownHostsFiles[0]
	}
	return s
}

// warm runs op from as many goroutines at once as the run has, with the
// command timeout, before measuring: a pooled contender then has the
// connections the run needs (a single warm-up command left the pool's
// second connection to be dialled inside its first measured round).
func warm(ctx context.Context, env *compareEnv, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	errs := make([]error, max(env.concurrency, 1))
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = op(ctx) })
	}
	wg.Wait()
	if err := cmp.Or(errs...); err != nil { // the first failure
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}
