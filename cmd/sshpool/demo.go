package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
	"github.com/sshpool/sshpool/sshconn"
)

// demoKey is the pool key the demo registers for its embedded server.
const demoKey = "demo"

type demoOptions struct {
	jobs        int
	concurrency int
	asJSON      bool
}

const demoLong = `Show the project at work against an embedded SSH server (no SSH host
needed), in two parts:

 1. the new pool on its own: a command, a failing command (its exit status
    is a result, not a broken connection), then --jobs commands from
    --concurrency goroutines over a few shared connections;
 2. the migration: old code calling legacy.GetConnectionPool().
    GetOrCreateConnection, unchanged, while the router sends each call to
    the legacy pool or the new pool as the flags say: first all on legacy,
    then a 50% rollout (sticky per server), then the kill switch.

It prints which pool served each call and what the pools' statistics mean.`

func newDemoCmd() *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo",
		Short: "Show the pool and the migration (legacy → new, rollout, kill switch) on an embedded SSH server",
		Long:  demoLong,
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.jobs < 1 || o.concurrency < 1 {
				return usagef("--jobs and --concurrency must be at least 1")
			}
			return runDemo(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	c.Flags().IntVar(&o.jobs, "jobs", 40, "number of commands to run through the pool")
	c.Flags().IntVar(&o.concurrency, "concurrency", 16, "goroutines running commands at once")
	addJSONFlag(c, &o.asJSON)
	return c
}

// demoResult is demo --json's document.
type demoResult struct {
	Server string `json:"server"`
	// HostKey is the embedded server's host key fingerprint (SHA256:...).
	HostKey string `json:"host_key"`
	// Pool is part 1: the new pool on its own.
	Pool demoPoolPart `json:"pool"`
	// Migration is part 2, step by step, and Pools both pools after it.
	Migration []demoStep  `json:"migration"`
	Pools     poolsReport `json:"pools"`
}

type demoPoolPart struct {
	Hostname        string    `json:"hostname"`
	ExitStatus      int       `json:"exit_status"`
	Jobs            int       `json:"jobs"`
	Concurrency     int       `json:"concurrency"`
	Failed          int       `json:"failed"`
	DurationSeconds float64   `json:"duration_seconds"`
	Stats           poolStats `json:"stats"`
}

// runDemo runs both parts and prints them as text or, with --json, as one
// document at the end.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer) error {
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format, a...) }
	if o.asJSON {
		say = func(string, ...any) {}
	}
	emb, err := startEmbedded()
	if err != nil {
		return err
	}
	defer emb.Close()
	r := demoResult{Server: emb.srv.Addr(), HostKey: ssh.FingerprintSHA256(emb.srv.HostKey())}
	say("embedded SSH server on %s (host key %s), verified strictly against a known_hosts file\n", r.Server, r.HostKey)
	if r.Pool, err = demoPool(ctx, emb, o, say); err != nil {
		return err
	}
	if r.Migration, r.Pools, err = runMigrationDemo(ctx, emb, say); err != nil {
		return err
	}
	say("\nAfter the migration demo:\n")
	sayPools(say, r.Pools)
	if o.asJSON {
		return writeJSON(stdout, r)
	}
	return nil
}

// demoPool is part 1: the new pool on its own.
func demoPool(ctx context.Context, emb *embedded, o demoOptions, say func(string, ...any)) (demoPoolPart, error) {
	part := demoPoolPart{Jobs: o.jobs, Concurrency: o.concurrency}
	cfg := pool.DevelopmentConfig()
	p := pool.NewPool(demoFactory(emb), cfg, nil)
	defer p.Close()
	say("\n== the new pool: at most %d connections per key, %d sessions (commands) per connection\n",
		cfg.MaxConnectionsPerKey, cfg.MaxSessionsPerConnection)
	res, err := p.Run(ctx, demoKey, "hostname")
	if err != nil {
		return part, fmt.Errorf("first command: %w", err)
	}
	part.Hostname = strings.TrimSpace(string(res.Stdout))
	say("hostname -> %s (the first command dialed a connection)\n", part.Hostname)
	_, err = p.Run(ctx, demoKey, "exit 3")
	var exitErr *pool.ExitError
	if !errors.As(err, &exitErr) {
		return part, fmt.Errorf("exit 3: want an exit error, got %v", err)
	}
	part.ExitStatus = exitErr.Result.ExitStatus
	say("exit 3 -> exit status %d (kind %s: the command failed, the connection stays healthy)\n",
		part.ExitStatus, failure.Classify(err))
	start := time.Now()
	part.Failed, err = demoConcurrent(ctx, p, o)
	part.DurationSeconds = time.Since(start).Seconds()
	say("ran %d commands from %d goroutines in %s, %d failed\n", o.jobs, o.concurrency,
		time.Since(start).Round(time.Millisecond), part.Failed)
	if err != nil {
		return part, err
	}
	part.Stats = statsOf(p.GetSnapshot())
	sayNewPool(say, part.Stats)
	if err := p.CloseContext(ctx); err != nil {
		return part, fmt.Errorf("close pool: %w", err)
	}
	say("pool closed; every lease returned (%d outstanding)\n", p.GetSnapshot().LeasesOutstanding)
	return part, nil
}

// demoFactory dials the embedded server as key demoKey, with strict host
// key checking against its known_hosts file.
func demoFactory(emb *embedded) pool.ConnectionFactory {
	reg := sshconn.NewRegistry()
	t := sshconn.Target{Host: emb.srv.Host(), Port: emb.srv.Port(), User: "demo",
		HostKey: sshconn.HostKeyStrict, KnownHostsFiles: []string{emb.knownHosts()}}
	t.Auth.IdentityFiles = []string{emb.keyFile()}
	reg.Register(demoKey, t)
	return sshconn.NewFactory(reg)
}

// demoConcurrent runs o.jobs commands from o.concurrency goroutines and
// checks each one's output.
func demoConcurrent(ctx context.Context, p pool.Pool, o demoOptions) (int, error) {
	jobs := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs
		errs []error
	)
	for range o.concurrency {
		wg.Go(func() {
			for j := range jobs {
				res, err := p.Run(ctx, demoKey, fmt.Sprintf("echo job %d", j))
				if err == nil && strings.TrimSpace(string(res.Stdout)) != fmt.Sprintf("job %d", j) {
					err = fmt.Errorf("job %d: unexpected output %q", j, res.Stdout)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for j := range o.jobs {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return len(errs), errors.Join(errs...)
}

// poolStats is the new pool's counters, as the demo explains them.
type poolStats struct {
	ConnectionsOpened int64   `json:"connections_opened"`
	ConnectionsOpen   int     `json:"connections_open"`
	Keys              int     `json:"keys"`
	Leases            int64   `json:"leases"`
	Hits              int64   `json:"hits"`
	Misses            int64   `json:"misses"`
	Waits             int64   `json:"waits"`
	WaitSeconds       float64 `json:"wait_seconds"`
	DialFailures      int64   `json:"dial_failures"`
	LeasesOutstanding int64   `json:"leases_outstanding"`
}

func statsOf(s pool.Snapshot) poolStats {
	return poolStats{ConnectionsOpened: s.Created, ConnectionsOpen: s.Total, Keys: s.Keys, Leases: s.Gets,
		Hits: s.Hits, Misses: s.Misses, Waits: s.WaitCount, WaitSeconds: s.WaitDuration.Seconds(),
		DialFailures: s.DialFailures, LeasesOutstanding: s.LeasesOutstanding}
}

// sayNewPool explains the new pool's statistics in words.
func sayNewPool(say func(string, ...any), s poolStats) {
	say("new pool: %d connection(s) opened in all, %d open now for %d key(s); %d leases granted (a lease holds one session slot):\n",
		s.ConnectionsOpened, s.ConnectionsOpen, s.Keys, s.Leases)
	say("  %d hits   - a connection of the key had a free session slot: no dial, the command started at once\n", s.Hits)
	say("  %d misses - no connection of the key had a free slot: the pool started a dial (one per key at a time)\n", s.Misses)
	say("  %d waits  - the command could not start at once: it waited for a dial in flight or a busy slot, %.1f ms in all\n",
		s.Waits, s.WaitSeconds*1000)
	if s.DialFailures > 0 {
		say("  %d dials failed\n", s.DialFailures)
	}
}

// poolsReport is both pools after the migration demo.
type poolsReport struct {
	New    poolStats   `json:"new_pool"`
	Legacy legacyStats `json:"legacy_pool"`
}

// legacyStats counts the legacy pool's connections and commands.
type legacyStats struct {
	Connections int   `json:"connections"`
	Commands    int64 `json:"commands"`
}

func poolsOf(m *providers.Migration) poolsReport {
	ls := m.Legacy.Stats()
	return poolsReport{New: statsOf(m.Pool.GetSnapshot()),
		Legacy: legacyStats{Connections: ls.Connections, Commands: ls.Commands}}
}

func sayPools(say func(string, ...any), r poolsReport) {
	sayNewPool(say, r.New)
	say("legacy pool: %d connection(s), one per server and user as the old code kept them; %d commands ran on them\n",
		r.Legacy.Connections, r.Legacy.Commands)
	say("When a server moves, the pool that lost it closes that server's idle connection; calls already\n" +
		"running finish on the pool they started on.\n")
	say("Both pools ran side by side; a flag change moved calls between them without a restart.\n")
}
