package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

type benchOptions struct {
	n, c int
	key  string
	cmd  string
}

const (
	maxBenchN = 1_000_000
	maxBenchC = 1024
)

func newBenchCmd() *cobra.Command {
	var (
		t poolTarget
		o benchOptions
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Run N commands at concurrency C and print ops/s and latency",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.n < 1 || o.n > maxBenchN || o.c < 1 || o.c > maxBenchC {
				return usagef("-n must be 1..%d and -c 1..%d", maxBenchN, maxBenchC)
			}
			return runBench(cmd.Context(), &t, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	t.register(c.Flags())
	c.Flags().IntVarP(&o.n, "count", "n", 200, "number of commands")
	c.Flags().IntVarP(&o.c, "concurrency", "c", 16, "commands running at once")
	c.Flags().StringVar(&o.key, "key", demoKey, "pool key (default: the embedded server)")
	c.Flags().StringVar(&o.cmd, "cmd", "true", "command to run")
	return c
}

// runBench runs N commands at concurrency C through a pool and prints the
// throughput and latency percentiles.
func runBench(ctx context.Context, t *poolTarget, o benchOptions, stdout, stderr io.Writer) error {
	p, _, closeAll, err := t.open(o.key, stderr)
	if err != nil {
		return err
	}
	defer closeAll()
	lat, errs, wall := benchRun(ctx, o, func(ctx context.Context) error {
		_, err := p.Run(ctx, o.key, o.cmd)
		return err
	})
	printBench(stdout, o, lat, len(errs), wall)
	s := p.GetSnapshot()
	fmt.Fprintf(stdout, "pool: connections created=%d, waits=%d, hits=%d, misses=%d, session-limit retries=%d\n",
		s.Created, s.WaitCount, s.Hits, s.Misses, s.SessionLimitRetries)
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d commands failed: %w", len(errs), o.n, errors.Join(errs[:min(len(errs), 3)]...))
	}
	return nil
}

// benchRun calls op o.n times from o.c goroutines and returns the latency
// of each success, the errors and the wall time.
func benchRun(ctx context.Context, o benchOptions, op func(context.Context) error) ([]time.Duration, []error, time.Duration) {
	jobs := make(chan struct{})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards lat and errs
		lat  []time.Duration
		errs []error
	)
	start := time.Now()
	for range o.c {
		wg.Go(func() {
			for range jobs {
				t0 := time.Now()
				err := op(ctx)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	for range o.n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return lat, errs, time.Since(start)
}

func printBench(w io.Writer, o benchOptions, lat []time.Duration, failed int, wall time.Duration) {
	slices.Sort(lat)
	fmt.Fprintf(w, "bench: %d commands (%q on %s), concurrency %d, %d failed, %s\n",
		o.n, o.cmd, o.key, o.c, failed, wall.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput: %.1f ops/s\n", float64(len(lat))/wall.Seconds())
	fmt.Fprintf(w, "latency: p50=%s p90=%s p99=%s max=%s\n",
		percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 100))
}

// percentile returns the q-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*q + 99) / 100
	return sorted[max(i-1, 0)].Round(time.Microsecond)
}
