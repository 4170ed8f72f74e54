package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

func TestLatencyBuckets(t *testing.T) {
	bounds := pool.LatencyBuckets()
	if len(bounds) != pool.NumLatencyBuckets-1 {
		t.Fatalf("%d bounds for %d buckets", len(bounds), pool.NumLatencyBuckets)
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			t.Fatalf("bounds not increasing at %d: %v", i, bounds)
		}
	}
	bounds[0] = time.Hour // a copy: the recorder's bounds stay
	if pool.LatencyBuckets()[0] != 100*time.Microsecond {
		t.Fatal("LatencyBuckets returned the recorder's own array")
	}
}

// TestSnapshotLatencies: a dial, a wait and commands (however run, failed
// ones too) each land in their histogram, and Count matches the counters.
func TestSnapshotLatencies(t *testing.T) {
	p := newTestPool(t, newFactory(), oneSlotConfig(), nil)
	ctx := context.Background()
	c := mustGet(t, p, "a") // dials
	got := make(chan pool.SSHClient)
	go func() {
		c2, err := p.Get(ctx, "a") // waits for c
		if err != nil {
			t.Error(err)
		}
		got <- c2
	}()
	waitFor(t, func() bool { return pool.WaitersFor(p, "a") == 1 })
	if _, err := c.Run(ctx, "ok"); err != nil { // a lease's Run
		t.Fatal(err)
	}
	mustRelease(t, p, "a", c)
	mustRelease(t, p, "a", <-got)
	if _, err := p.Run(ctx, "a", "fail"); err == nil { // Pool.Run, failing
		t.Fatal("fail succeeded")
	}
	s := p.GetSnapshot()
	if s.DialLatency.Count != 1 || s.DialLatency.Count != s.Dials {
		t.Errorf("DialLatency %+v, Dials %d", s.DialLatency, s.Dials)
	}
	// Two waits: the first Get for its dial, the second for the slot.
	if s.WaitLatency.Count != 2 || s.WaitLatency.Count != s.WaitCount || s.WaitLatency.Sum != s.WaitDuration {
		t.Errorf("WaitLatency %+v, WaitCount %d WaitDuration %v", s.WaitLatency, s.WaitCount, s.WaitDuration)
	}
	if s.CommandLatency.Count != 2 || s.CommandErrors != 1 {
		t.Errorf("CommandLatency %+v, CommandErrors %d, want 2 commands, 1 failed", s.CommandLatency, s.CommandErrors)
	}
}

// TestGetTimeoutsAndCancellations: WaitTimeout and the caller's deadline
// count as timeouts, a canceled context (before or during the wait) as a
// cancellation; a Get failing for another reason counts as neither.
func TestGetTimeoutsAndCancellations(t *testing.T) {
	cfg := oneSlotConfig()
	cfg.WaitTimeout = 20 * time.Millisecond
	f := newFactory()
	p := newTestPool(t, f, cfg, nil)
	c := mustGet(t, p, "a")
	defer mustRelease(t, p, "a", c)

	if _, err := p.Get(context.Background(), "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTimeout: %v", err)
	}
	dl, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := p.Get(dl, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := p.Get(canceled, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled before: %v", err)
	}
	during, cancel3 := context.WithCancel(context.Background())
	go func() {
		waitFor(t, func() bool { return pool.WaitersFor(p, "a") == 1 })
		cancel3()
	}()
	if _, err := p.Get(during, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled while waiting: %v", err)
	}
	f.setErr(errors.New("refused"))
	if _, err := p.Get(context.Background(), "b"); err == nil {
		t.Fatal("dial failure not reported")
	}
	s := p.GetSnapshot()
	if s.GetTimeouts != 2 || s.GetCancellations != 2 {
		t.Fatalf("GetTimeouts %d GetCancellations %d, want 2 and 2", s.GetTimeouts, s.GetCancellations)
	}
}

// cmdTracer records the command hooks.
type cmdTracer struct {
	mu     sync.Mutex
	starts []pool.CommandData
	ends   []pool.CommandData
	ctxOK  bool // the end hook got the context the start hook returned
}

type cmdCtxKey struct{}

func (c *cmdTracer) hooks() *pool.Tracer {
	return &pool.Tracer{CommandStart: c.commandStart, CommandEnd: c.commandEnd}
}

func (c *cmdTracer) commandStart(ctx context.Context, d pool.CommandData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts = append(c.starts, d)
	return context.WithValue(ctx, cmdCtxKey{}, c)
}

func (c *cmdTracer) commandEnd(ctx context.Context, d pool.CommandData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ends = append(c.ends, d)
	c.ctxOK = ctx.Value(cmdCtxKey{}) == c
}

// TestCommandTracerThroughMultiTracer: command hooks combined with a
// tracer that sets none see every command with its key, connection,
// command line, exit status and error: the start hook the fields known
// before the command runs, the end hook the same data with the outcome.
func TestCommandTracerThroughMultiTracer(t *testing.T) {
	ct := &cmdTracer{}
	p := newTestPool(t, newFactory(), testConfig(), pool.MultiTracer((&recTracer{}).hooks(), ct.hooks()))
	if _, err := p.Run(context.Background(), "k", "ok"); err != nil {
		t.Fatal(err)
	}
	c := mustGet(t, p, "k")
	_, err := c.Run(context.Background(), "fail")
	mustRelease(t, p, "k", c)
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.starts) != 2 || len(ct.ends) != 2 || !ct.ctxOK {
		t.Fatalf("starts %+v ends %+v ctxOK %v", ct.starts, ct.ends, ct.ctxOK)
	}
	if s := ct.starts[1]; s.Key != "k" || s.Cmd != "fail" || s.ConnID != pool.ConnID(c) ||
		s.Err != nil || s.ExitStatus != 0 || s.Duration != 0 {
		t.Errorf("start %+v, want only key, connection and command", s)
	}
	if e := ct.ends[1]; e.ExitStatus != 1 || !errors.Is(e.Err, err) || e.Err == nil || e.Duration < 0 ||
		e.Key != "k" || e.Cmd != "fail" || e.ConnID != pool.ConnID(c) {
		t.Errorf("end %+v, want the start's fields, exit 1 and %v", e, err)
	}
	if e := ct.ends[0]; e.Err != nil || e.ExitStatus != 0 {
		t.Errorf("end of ok %+v", e)
	}
}
