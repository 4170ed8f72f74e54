package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchInterrupted: SIGINT (the command's context ending) stops a
// bench at once; the commands left, and those it cut short, are reported
// as not run, never as failures, and the exit code says it did not finish.
// It used to go on starting every remaining command, each failing at once
// with "context canceled", and report them as failed.
func TestBenchInterrupted(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(500*time.Millisecond, cancel)
		args := []string{"bench", "-n", "5000", "-c", "2", "--cmd", "sleep 0.05"}
		if asJSON {
			args = append(args, "--json")
		}
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, &stdout, &stderr)
		stop.Stop()
		cancel()
		if code != exitError || !strings.Contains(stderr.String(), "sshpool bench: interrupted: ") {
			t.Errorf("json=%v: exit %d, stderr %q; want 1 and the interruption", asJSON, code, stderr.String())
		}
		if !asJSON {
			if !strings.Contains(stdout.String(), " commands not run; the figures are of the ") {
				t.Errorf("text: %s", stdout.String())
			}
			continue
		}
		var r benchResult
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("--json: %v: %s", err, stdout.String())
		}
		if r.NotRun == 0 || r.Failed != 0 || r.NotRun+r.Succeeded != 5000 {
			t.Errorf("--json: not_run %d, failed %d, succeeded %d; want the rest of 5000 not run, none failed",
				r.NotRun, r.Failed, r.Succeeded)
		}
	}
}

// TestRoundsInterrupted: --compare stops within a round when interrupted;
// a contender that never ran says so instead of failing (its row used to
// index an empty error list).
func TestRoundsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The pool's first command is interrupted while it runs, and ends
	// well; any later one sees the interruption.
	var calls atomic.Int32
	first := func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			cancel()
			return nil
		}
		return ctx.Err()
	}
	second := func(context.Context) error { t.Error("the second contender ran after the interruption"); return nil }
	o := benchOptions{n: 10, c: 1, rounds: 5}
	results := []contenderResult{{Name: "pool"}, {Name: "other"}}
	recs := runRounds(ctx, o, []func(context.Context) error{first, second}, results, &bytes.Buffer{})
	for i := range results {
		results[i].benchStats = recs[i].stats()
	}
	if s := results[0]; s.Succeeded != 1 || s.Failed != 0 || s.NotRun != 9 {
		t.Errorf("pool: %+v; want 1 run, 9 not run, none failed", s.benchStats)
	}
	if s := results[1]; s.Succeeded != 0 || s.Failed != 0 || s.NotRun != 10 {
		t.Errorf("other: %+v; want 10 not run", s.benchStats)
	}
	var out bytes.Buffer
	printCompare(&out, compareResult{Count: 10, Concurrency: 1, Rounds: 5, Contenders: results})
	for _, want := range []string{"| other | not run: interrupted |", "interrupted: the figures are of the commands that ran"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFmtRate(t *testing.T) {
	for r, want := range map[float64]string{3335.4: "3335", 100: "100", 49.26: "49.3", 9.999: "10.00", 0.25: "0.25", 0: "0.00"} {
		if got := fmtRate(r); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", r, got, want)
		}
	}
}

// TestBenchCompareTimeoutBoundsOldAPI: --timeout bounds the legacy pool's
// and the adapter's commands too (the old API takes no context; they ran
// for the legacy pool's 5 minutes).
func TestBenchCompareTimeoutBoundsOldAPI(t *testing.T) {
	code, stdout, _ := runCLI(t, "bench", "--compare", "-n", "1", "-c", "1", "--rounds", "1", "--chart", "",
		"--cmd", "sleep 3", "--timeout", "300ms", "--json")
	var r compareResult
	if err := json.Unmarshal([]byte(stdout), &r); code != exitError || err != nil {
		t.Fatalf("exit %d, %v: %s", code, err, stdout)
	}
	for _, c := range r.Contenders {
		if (c.Name == "legacy pool" || c.Name == "adapter") && (c.Failed != 1 || !strings.Contains(c.Errors[0], "deadline exceeded")) {
			t.Errorf("%s: %+v; want its command cut at --timeout", c.Name, c.benchStats)
		}
	}
}

// TestWarmAtRunConcurrency: a contender is warmed with as many commands in
// flight at once as the run will have, so that a pool has dialled the
// connections the run needs before the first measured round (one warm-up
// command left the pool's second connection to a measured round); a
// failed warm-up command is reported.
func TestWarmAtRunConcurrency(t *testing.T) {
	const c = 5
	var started atomic.Int32
	all := make(chan struct{})
	op := func(ctx context.Context) error {
		if started.Add(1) == c {
			close(all)
		}
		select {
		case <-all: // every warm-up command is in flight at once
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	env := &compareEnv{concurrency: c, timeout: 10 * time.Second}
	if err := warm(context.Background(), env, op); err != nil || started.Load() != c {
		t.Fatalf("warm: %v after %d commands, want %d at once", err, started.Load(), c)
	}
	boom := func(context.Context) error { return errors.New("boom") }
	if err := warm(context.Background(), env, boom); err == nil || !strings.Contains(err.Error(), "warm-up: boom") {
		t.Fatalf("failed warm-up: %v", err)
	}
}
