package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/pool"
)

type benchOptions struct {
	n, c   int
	key    string
	cmd    string
	asJSON bool
	// timeout bounds each command.
	timeout time.Duration
	// compare runs every contender (compare.go); rounds interleaves them
	// and chart is the SVG written ("" for none).
	compare bool
	rounds  int
	chart   string
}

const (
	maxBenchN      = 1_000_000
	maxBenchC      = 1024
	maxBenchRounds = 100
)

const benchLong = `Run N commands at concurrency C through a pool and print the throughput
and latency percentiles. Without --config, key "demo" is an embedded SSH
server.

--compare runs the same workload through every way of running commands:
the pool, a raw x/crypto client (one connection, a session per command, at
most 10 at once as sshd's MaxSessions allows), the legacy pool, the adapter
(the old API served by the pool), a new connection per command, and OpenSSH
with ControlMaster when ssh is installed. The N commands are split into
--rounds rounds; every round runs each contender in turn (the order rotating)
so that machine noise hits all of them alike. It prints a markdown table
(ops/s, p50, p99, ratio to the pool) and writes an SVG chart (--chart).

A progress bar is drawn on stderr when it is a terminal. With --json the
result is one JSON object on stdout (see 'sshpool --help').`

func newBenchCmd() *cobra.Command {
	var (
		t poolTarget
		o benchOptions
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Run N commands at concurrency C and print ops/s and latency; --compare against other ways",
		Long:  benchLong,
		Example: `  sshpool bench -n 2000 -c 16
  sshpool bench --compare -n 2000 -c 16 --chart bench.svg
  sshpool bench --config c.yaml --key web-1 --cmd uptime --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if o.compare {
				return runCompare(cmd.Context(), &t, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runBench(cmd.Context(), &t, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	t.register(c.Flags())
	fs := c.Flags()
	fs.IntVarP(&o.n, "count", "n", 200, "number of commands (per contender with --compare)")
	fs.IntVarP(&o.c, "concurrency", "c", 16, "commands running at once")
	fs.StringVar(&o.key, "key", demoKey, "target: a key of --config, an ssh_config alias or [user@]host[:port]; "+demoKey+" is the embedded server")
	fs.StringVar(&o.cmd, "cmd", "true", "command to run")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "time limit of each command")
	fs.BoolVar(&o.compare, "compare", false, "compare the pool with the other ways of running commands")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds with --compare")
	fs.StringVar(&o.chart, "chart", "sshpool-bench.svg", `SVG chart written by --compare ("" for none)`)
	addJSONFlag(c, &o.asJSON)
	return c
}

func (o benchOptions) check() error {
	if o.n < 1 || o.n > maxBenchN || o.c < 1 || o.c > maxBenchC {
		return usagef("-n must be 1..%d and -c 1..%d", maxBenchN, maxBenchC)
	}
	if o.timeout <= 0 {
		return usagef("--timeout must be > 0")
	}
	if o.compare && (o.rounds < 1 || o.rounds > maxBenchRounds || o.rounds > o.n) {
		return usagef("--rounds must be 1..%d and at most -n", maxBenchRounds)
	}
	return nil
}

// benchResult is bench --json's document (without --compare).
type benchResult struct {
	Key         string `json:"key"`
	Command     string `json:"command"`
	Count       int    `json:"count"`
	Concurrency int    `json:"concurrency"`
	benchStats
	// Pool is the pool's counters after the run.
	Pool benchPoolStats `json:"pool"`
}

// benchStats is what one workload measured.
type benchStats struct {
	Succeeded    int     `json:"succeeded"`
	Failed       int     `json:"failed"`
	WallSeconds  float64 `json:"wall_seconds"`
	OpsPerSecond float64 `json:"ops_per_second"`
	// Latency percentiles of the commands that succeeded; absent when
	// none did.
	P50Seconds float64 `json:"p50_seconds,omitempty"`
	P90Seconds float64 `json:"p90_seconds,omitempty"`
	P99Seconds float64 `json:"p99_seconds,omitempty"`
	MaxSeconds float64 `json:"max_seconds,omitempty"`
	// Errors are the first few distinct failures (empty when none).
	Errors []string `json:"errors"`
	// NotRun counts the commands not run because the run was interrupted
	// (SIGINT, SIGTERM); those cut short by it are counted here too, not
	// as failures.
	NotRun int `json:"not_run,omitempty"`
}

type benchPoolStats struct {
	ConnectionsCreated int64 `json:"connections_created"`
	Hits               int64 `json:"hits"`
	Misses             int64 `json:"misses"`
	Waits              int64 `json:"waits"`
	// SessionLimitRetries counts commands opened again after the server
	// refused their session at its session limit (pool.Snapshot).
	SessionLimitRetries int64 `json:"session_limit_retries"`
}

// runBench runs N commands at concurrency C through a pool and prints the
// throughput and latency percentiles. A run where every command failed
// reports the failure, not zero throughput.
func runBench(ctx context.Context, t *poolTarget, o benchOptions, stdout, stderr io.Writer) error {
	p, _, closeAll, err := t.open(o.key, stderr)
	if err != nil {
		return err
	}
	defer closeAll()
	bar := newProgress(stderr, o.n, "bench")
	var rec recorder
	rec.run(ctx, o.n, o.c, bar.add, withTimeout(o.timeout, poolRun(p, o.key, o.cmd)))
	bar.finish()
	s := p.GetSnapshot()
	r := benchResult{Key: o.key, Command: o.cmd, Count: o.n, Concurrency: o.c, benchStats: rec.stats(),
		Pool: benchPoolStats{ConnectionsCreated: s.Created, Hits: s.Hits, Misses: s.Misses, Waits: s.WaitCount,
			SessionLimitRetries: s.SessionLimitRetries}}
	if o.asJSON {
		if err := writeJSON(stdout, r); err != nil {
			return err
		}
	} else {
		printBench(stdout, r)
	}
	return r.err()
}

// err reports an interrupted run, or failed commands: all of them, or how
// many.
func (s benchStats) err() error {
	switch {
	case s.NotRun > 0:
		return fmt.Errorf("interrupted: %d of %d commands not run", s.NotRun, s.NotRun+s.Failed+s.Succeeded)
	case s.Failed == 0:
		return nil
	case s.Succeeded == 0:
		return fmt.Errorf("all %d commands failed: %s", s.Failed, s.Errors[0])
	}
	return fmt.Errorf("%d of %d commands failed, first: %s", s.Failed, s.Failed+s.Succeeded, s.Errors[0])
}

func printBench(w io.Writer, r benchResult) {
	fmt.Fprintf(w, "bench: %d commands (%q on %s), concurrency %d, %d failed, %s\n",
		r.Count, r.Command, r.Key, r.Concurrency, r.Failed, seconds(r.WallSeconds).Round(time.Millisecond))
	if r.NotRun > 0 {
		fmt.Fprintf(w, "interrupted: %d commands not run; the figures are of the %d that ran\n", r.NotRun, r.Succeeded+r.Failed)
	}
	if r.Succeeded == 0 {
		if r.Failed > 0 {
			fmt.Fprintln(w, "throughput: none: every command failed")
		} else {
			fmt.Fprintln(w, "throughput: none: no command ran")
		}
		return
	}
	fmt.Fprintf(w, "throughput: %.1f ops/s\n", r.OpsPerSecond)
	fmt.Fprintf(w, "latency: p50=%s p90=%s p99=%s max=%s\n", seconds(r.P50Seconds), seconds(r.P90Seconds),
		seconds(r.P99Seconds), seconds(r.MaxSeconds))
	fmt.Fprintf(w, "pool: connections created=%d, waits=%d, hits=%d, misses=%d, session-limit retries=%d\n",
		r.Pool.ConnectionsCreated, r.Pool.Waits, r.Pool.Hits, r.Pool.Misses, r.Pool.SessionLimitRetries)
}

// seconds converts a JSON seconds figure back to a duration for printing.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond)
}

// maxBenchErrors is how many distinct errors a run keeps.
const maxBenchErrors = 3

// recorder accumulates the latencies and failures of workloads; one
// recorder may take several runs (the rounds of a contender).
type recorder struct {
	mu     sync.Mutex // guards the fields below
	lat    []time.Duration
	failed int
	errs   []string
	wall   time.Duration
	notRun int
}

// run calls op n times from c goroutines; done is called after each call.
// Once ctx ends it starts no more calls: those left, and a call that
// failed because ctx ended, count as not run.
func (r *recorder) run(ctx context.Context, n, c int, done func(), op func(context.Context) error) {
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range min(c, n) {
		wg.Go(func() {
			for range jobs {
				t0 := time.Now()
				err := op(ctx)
				r.record(time.Since(t0), err, ctx.Err() != nil)
				done()
			}
		})
	}
	sent := 0
dispatch:
	for ; sent < n; sent++ {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	r.mu.Lock()
	r.wall += time.Since(start)
	r.notRun += n - sent
	r.mu.Unlock()
}

// skip counts n calls not made: the run was interrupted before them.
func (r *recorder) skip(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notRun += n
}

// record counts one call; interrupted says the run's context had ended
// when it returned.
func (r *recorder) record(d time.Duration, err error, interrupted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && interrupted {
		r.notRun++
		return
	}
	if err == nil {
		r.lat = append(r.lat, d)
		return
	}
	r.failed++
	if msg := err.Error(); len(r.errs) < maxBenchErrors && !slices.Contains(r.errs, msg) {
		r.errs = append(r.errs, msg)
	}
}

// stats summarises what the recorder saw.
func (r *recorder) stats() benchStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	s := benchStats{Succeeded: len(lat), Failed: r.failed, WallSeconds: r.wall.Seconds(), Errors: append([]string{}, r.errs...),
		NotRun: r.notRun}
	if len(lat) == 0 {
		return s
	}
	s.OpsPerSecond = float64(len(lat)) / r.wall.Seconds()
	s.P50Seconds = percentile(lat, 50).Seconds()
	s.P90Seconds = percentile(lat, 90).Seconds()
	s.P99Seconds = percentile(lat, 99).Seconds()
	s.MaxSeconds = percentile(lat, 100).Seconds()
	return s
}

// percentile returns the q-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*q + 99) / 100
	return sorted[max(i-1, 0)]
}

// withTimeout bounds each call of op by d.
func withTimeout(d time.Duration, op func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return op(ctx)
	}
}

// poolRun is the pool's operation: one Run of cmd on key.
func poolRun(p pool.Pool, key, cmd string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := p.Run(ctx, key, cmd)
		return err
	}
}
