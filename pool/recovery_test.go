package pool_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// slowCircuitConfig is testConfig with a one-minute cap, so that only
// RetryNow (never the schedule) can let a dial through within a test.
func slowCircuitConfig() pool.PoolConfig {
	cfg := testConfig()
	cfg.Advanced.CircuitBaseCooldown, cfg.Advanced.CircuitCooldown = time.Minute, time.Minute
	return cfg
}

// TestRetryNowRearmsOpenCircuit: after a permanent failure the next Get
// fails fast; RetryNow lets the next one dial at once and restarts the
// schedule, and names how many circuits it rearmed. Keys that are not
// failing are left alone.
func TestRetryNowRearmsOpenCircuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.HostKeyChanged})
		p := newTestPool(t, f, slowCircuitConfig(), nil)
		_, _ = p.Get(context.Background(), "a")
		if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("Get = %v, want circuit open", err)
		}
		if n := p.RetryNow("b", "unknown"); n != 0 {
			t.Errorf("RetryNow(other keys) = %d, want 0", n)
		}
		if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("Get after RetryNow of other keys = %v, want circuit open", err)
		}
		f.setErr(nil) // known_hosts fixed
		if n := p.RetryNow("a"); n != 1 {
			t.Errorf("RetryNow(a) = %d, want 1", n)
		}
		c, err := p.Get(context.Background(), "a")
		if err != nil {
			t.Fatalf("Get after RetryNow = %v, want a dial", err)
		}
		mustRelease(t, p, "a", c)
		if d := f.dials.Load(); d != 2 {
			t.Errorf("dials = %d, want 2", d)
		}
		if n := p.RetryNow(); n != 0 {
			t.Errorf("RetryNow() with every circuit closed = %d, want 0", n)
		}
	})
}

// TestRetryNowRestartsSchedule: a rearmed circuit whose trial fails again
// opens for CircuitBaseCooldown, not for the cooldown it had reached.
func TestRetryNowRestartsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.HostKeyChanged})
		p := newTestPool(t, f, testConfig(), nil)
		_, _ = p.Get(context.Background(), "a")
		for range 5 { // 200ms, 400, 800, 1s, 1s
			time.Sleep(time.Second)
			_, _ = p.Get(context.Background(), "a")
		}
		if got := pool.CircuitCooldownFor(p, "a"); got != time.Second {
			t.Fatalf("cooldown %v, want the 1s cap", got)
		}
		p.RetryNow()
		if _, err := p.Get(context.Background(), "a"); err == nil || errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("Get after RetryNow = %v, want the dial's error", err)
		}
		if got := pool.CircuitCooldownFor(p, "a"); got != pool.DefaultCircuitBaseCooldown {
			t.Errorf("cooldown after a rearmed trial failed = %v, want the base %v", got, pool.DefaultCircuitBaseCooldown)
		}
	})
}

// TestRetryNowDuringTrial: a trial dial in flight read the old inputs; if
// it fails after RetryNow, its failure does not advance the schedule and
// the next Get dials at once.
func TestRetryNowDuringTrial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Auth})
		p := newTestPool(t, f, slowCircuitConfig(), nil)
		_, _ = p.Get(context.Background(), "a")
		time.Sleep(time.Minute)
		gate := f.block()
		done := make(chan error, 1)
		go func() {
			_, err := p.Get(context.Background(), "a") // the trial, with the old key
			done <- err
		}()
		<-f.entered
		if n := p.RetryNow("a"); n != 1 {
			t.Errorf("RetryNow during the trial = %d, want 1", n)
		}
		close(gate)
		if err := <-done; failure.Classify(err) != failure.Auth || errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("trial = %v, want its auth error", err)
		}
		f.mu.Lock()
		f.gate, f.entered, f.err = nil, nil, nil
		f.mu.Unlock()
		c, err := p.Get(context.Background(), "a")
		if err != nil {
			t.Fatalf("Get after the stale trial = %v, want a dial at once", err)
		}
		mustRelease(t, p, "a", c)
		if d := f.dials.Load(); d != 3 {
			t.Errorf("dials = %d, want 3", d)
		}
	})
}

// detectingFactory is a fakeFactory that is also a pool.ChangeDetector:
// changed holds the keys ChangedKeys reports next.
type detectingFactory struct {
	*fakeFactory
	mu      sync.Mutex // guards changed
	changed []string
	polls   atomic.Int64
}

func (f *detectingFactory) ChangedKeys() []string {
	f.polls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.changed
	f.changed = nil
	return k
}

func (f *detectingFactory) change(keys ...string) {
	f.mu.Lock()
	f.changed = append(f.changed, keys...)
	f.mu.Unlock()
}

// TestChangeDetectorRetriesAtOnce: when the factory reports that a failing
// key's inputs changed (its known_hosts was rewritten), the pool rearms the
// key's circuit within one poll, without waiting for the schedule. The
// poller runs only while a circuit is open for a permanent failure, and
// ends when it closes.
func TestChangeDetectorRetriesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &detectingFactory{fakeFactory: newFactory()}
		f.setErr(&kindErr{failure.Refused})
		cfg := slowCircuitConfig()
		cfg.Advanced.CircuitThreshold = 1
		p := newTestPool(t, f, cfg, nil)
		_, _ = p.Get(context.Background(), "t") // a transient failure: nothing to watch
		time.Sleep(time.Second)
		if n := f.polls.Load(); n != 0 {
			t.Fatalf("%d polls for a transient failure, want none", n)
		}
		f.setErr(&kindErr{failure.HostKeyChanged})
		_, _ = p.Get(context.Background(), "a")
		time.Sleep(time.Second)
		if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("Get = %v, want circuit open", err)
		}
		f.setErr(nil)
		f.change("a")
		time.Sleep(150 * time.Millisecond) // one poll
		c, err := p.Get(context.Background(), "a")
		if err != nil {
			t.Fatalf("Get after the change = %v, want a dial", err)
		}
		mustRelease(t, p, "a", c)
		polls := f.polls.Load()
		time.Sleep(time.Second)
		if n := f.polls.Load(); n > polls+1 {
			t.Errorf("polls went on after the circuit closed: %d, then %d", polls, n)
		}
	})
}

// TestWarmupKeyBacksOffToCeiling: a warm-up key that fails authentication
// was redialled by the health loop every cooldown for ever. Now its
// background dials back off from one HealthInterval, doubling, to
// WarmupBackoffMax, each failure counted (WarmupFailures) and reported
// (EventWarmupBackoff with the pause); a Get still dials on the circuit's
// schedule, and RetryNow tops the key up at once.
func TestWarmupKeyBacksOffToCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Auth})
		cfg := testConfig()
		cfg.WarmupKeys, cfg.WarmupConnections = []string{"w"}, 1
		cfg.HealthInterval, cfg.HealthTimeout = time.Second, 100*time.Millisecond
		cfg.Advanced.WarmupBackoffMax = 16 * time.Second
		p := newTestPool(t, f, cfg, nil)
		events, cancel := p.SubscribeHealth(256)
		defer cancel()
		if err := p.Start(context.Background()); failure.Classify(err) != failure.Auth {
			t.Fatalf("Start = %v, want the warm-up's auth error", err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		dials := f.dials.Load()
		// 1 warm-up, then background dials after about 1, 2, 4, 8, 16,
		// 16, ... s: 5 in the first 31 s, one per 16 s (±20 %) after.
		if dials < 8 || dials > 13 {
			t.Errorf("%d dials in 2 minutes, want 8..13 (without the backoff, a dial every tick or cooldown: ~80)", dials)
		}
		var backoffs []time.Duration
		for _, ev := range drainEvents(events) {
			if ev.Type == pool.EventWarmupBackoff {
				if ev.Key != "w" || failure.Classify(ev.Err) != failure.Auth || ev.Failures != len(backoffs)+1 {
					t.Errorf("event %+v", ev)
				}
				backoffs = append(backoffs, ev.Backoff)
			}
		}
		if int64(len(backoffs)) != dials-1 {
			t.Errorf("%d backoff events for %d background dials", len(backoffs), dials-1)
		}
		for i, b := range backoffs {
			want := min(time.Second<<i, 16*time.Second)
			if b < want*8/10 || b > min(want*12/10, 16*time.Second) {
				t.Errorf("backoff %d = %v, want %v ±20 %% (at most the ceiling)", i, b, want)
			}
		}
		if s := p.GetSnapshot(); s.WarmupFailures != dials {
			t.Errorf("WarmupFailures = %d, want every failed dial (%d)", s.WarmupFailures, dials)
		}

		// A Get is not held back by the background backoff (16 s now):
		// it reaches a trial dial within the circuit's floor for
		// authentication failures.
		var err error
		for end := time.Now().Add(pool.DefaultCircuitAuthCooldown * 12 / 10); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if _, err = p.Get(context.Background(), "w"); !errors.Is(err, pool.ErrCircuitOpen) {
				break
			}
		}
		if failure.Classify(err) != failure.Auth || errors.Is(err, pool.ErrCircuitOpen) {
			t.Errorf("Get = %v, want a trial dial's auth error", err)
		}

		// The key is fixed: RetryNow tops it up without waiting.
		f.setErr(nil)
		before := f.dials.Load()
		p.RetryNow()
		synctest.Wait()
		if f.dials.Load() != before+1 || len(p.Entries()) != 1 {
			t.Errorf("after RetryNow: %d dials, %d connections; want one dial and the warm connection",
				f.dials.Load()-before, len(p.Entries()))
		}
	})
}

// TestWarmupKeyDownIsToppedUpEveryTick: a warm-up key whose server is
// down (a transient failure) gets no background backoff: the health loop
// tries it at every tick, so it is warm again a tick after the server is
// back (or two, when the circuit's cooldown holds the first), and each
// failure is counted.
func TestWarmupKeyDownIsToppedUpEveryTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Refused})
		cfg := testConfig()
		cfg.WarmupKeys, cfg.WarmupConnections = []string{"w"}, 1
		cfg.HealthInterval, cfg.HealthTimeout = time.Second, 100*time.Millisecond
		p := newTestPool(t, f, cfg, nil)
		events, cancel := p.SubscribeHealth(256)
		defer cancel()
		_ = p.Start(context.Background())
		time.Sleep(30 * time.Second)
		synctest.Wait()
		dials := f.dials.Load()
		if dials < 20 {
			t.Errorf("%d dials in 30 ticks, want about one a tick", dials)
		}
		for _, ev := range drainEvents(events) {
			if ev.Type == pool.EventWarmupBackoff {
				t.Errorf("backoff event for a transient failure: %+v", ev)
			}
		}
		if s := p.GetSnapshot(); s.WarmupFailures != dials {
			t.Errorf("WarmupFailures = %d, want %d", s.WarmupFailures, dials)
		}
		f.setErr(nil)
		time.Sleep(2 * time.Second) // two ticks: the circuit's 1s cooldown may hold the first
		synctest.Wait()
		if n := len(p.Entries()); n != 1 {
			t.Errorf("%d connections two ticks after the server is back, want the warm one", n)
		}
	})
}

// TestRetryNowAfterClose does nothing.
func TestRetryNowAfterClose(t *testing.T) {
	f := newFactory()
	f.setErr(&kindErr{failure.Auth})
	p := pool.NewPool(f, testConfig(), nil)
	_, _ = p.Get(context.Background(), "a")
	_ = p.Close()
	if n := p.RetryNow(); n != 0 {
		t.Errorf("RetryNow after Close = %d", n)
	}
}
