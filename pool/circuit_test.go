package pool_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

func circuitConfig(threshold int) pool.PoolConfig {
	cfg := testConfig()
	cfg.Advanced.CircuitThreshold, cfg.Advanced.CircuitCooldown = threshold, time.Minute
	return cfg
}

// TestCircuitOpensAfterThreshold: consecutive retryable dial failures
// open the circuit; then Gets fail fast with ErrCircuitOpen naming the key
// and the last dial error, without dialling.
func TestCircuitOpensAfterThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Refused})
		p := newTestPool(t, f, circuitConfig(3), nil)
		events, cancel := p.SubscribeHealth(8)
		defer cancel()
		for range 3 {
			if _, err := p.Get(context.Background(), "a"); errors.Is(err, pool.ErrCircuitOpen) {
				t.Fatal("circuit open before the threshold")
			}
		}
		for range 5 {
			_, err := p.Get(context.Background(), "a")
			var ce *pool.CircuitError
			if !errors.Is(err, pool.ErrCircuitOpen) || !errors.As(err, &ce) || ce.Key != "a" ||
				failure.Classify(err) != failure.Refused || !strings.Contains(err.Error(), `"a"`) {
				t.Fatalf("Get = %v, want ErrCircuitOpen for a with the last dial error", err)
			}
		}
		if f.dials.Load() != 3 {
			t.Errorf("dials = %d, want 3", f.dials.Load())
		}
		if s := p.GetSnapshot(); s.CircuitOpens != 1 {
			t.Errorf("circuit opens = %d", s.CircuitOpens)
		}
		synctest.Wait() // the failed dial publishes circuit-open after its waiters get the error
		if got := eventTypes(drainEvents(events)); got != "circuit-open" {
			t.Errorf("events = %s", got)
		}
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusUnhealthy || rep.Ready() ||
			rep.Keys[0].Circuit != pool.CircuitOpen || rep.Keys[0].LastErr == "" {
			t.Errorf("report %+v, want unhealthy with a's circuit open", rep)
		}
	})
}

// TestCircuitHalfOpenLetsOneTrialThrough: after the cooldown exactly one
// dial passes; concurrent Gets wait for it instead of dialling; its
// success closes the circuit.
func TestCircuitHalfOpenLetsOneTrialThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Refused})
		p := newTestPool(t, f, circuitConfig(1), nil)
		events, cancel := p.SubscribeHealth(8)
		defer cancel()
		_, _ = p.Get(context.Background(), "a")
		if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("Get = %v, want circuit open", err)
		}
		time.Sleep(time.Minute)
		f.setErr(nil)
		gate := f.block()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				c, err := p.Get(context.Background(), "a")
				errs[i] = err
				if err == nil {
					mustRelease(t, p, "a", c)
				}
			})
		}
		synctest.Wait()
		if f.dials.Load() != 2 {
			t.Errorf("dials in half-open = %d, want 2 (the failure and one trial)", f.dials.Load())
		}
		close(gate)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Get %d = %v", i, err)
			}
		}
		synctest.Wait() // the trial dial publishes circuit-closed after its waiters got their leases
		if got := eventTypes(drainEvents(events)); got != "circuit-open,circuit-half-open,circuit-closed" {
			t.Errorf("events = %s", got)
		}
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusHealthy {
			t.Errorf("report %+v", rep)
		}
	})
}

// TestCircuitTrialFailureReopens: a failed trial reopens the circuit for
// another cooldown.
func TestCircuitTrialFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Timeout})
		p := newTestPool(t, f, circuitConfig(2), nil)
		for range 2 {
			_, _ = p.Get(context.Background(), "a")
		}
		time.Sleep(time.Minute)
		if _, err := p.Get(context.Background(), "a"); err == nil || errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("trial = %v, want the dial error", err)
		}
		if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatalf("after failed trial = %v, want circuit open", err)
		}
		if f.dials.Load() != 3 {
			t.Errorf("dials = %d, want 3", f.dials.Load())
		}
	})
}

// TestPermanentDialErrorOpensCircuitAtOnce: an authentication failure is
// dialled once; every later Get, Run and Warmup fails fast.
func TestPermanentDialErrorOpensCircuitAtOnce(t *testing.T) {
	f := newFactory()
	f.setErr(&kindErr{failure.Auth})
	cfg := circuitConfig(5)
	cfg.WarmupKeys, cfg.WarmupConnections = []string{"a"}, 1
	p := newTestPool(t, f, cfg, nil)
	for range 10 {
		_, _ = p.Get(context.Background(), "a")
	}
	_, err := p.Run(context.Background(), "a", "ok")
	if !errors.Is(err, pool.ErrCircuitOpen) || failure.Classify(err) != failure.Auth {
		t.Errorf("Run = %v (%v), want circuit open, kind auth", err, failure.Classify(err))
	}
	if err := p.Warmup(context.Background()); !errors.Is(err, pool.ErrCircuitOpen) {
		t.Errorf("Warmup = %v", err)
	}
	if f.dials.Load() != 1 {
		t.Errorf("dials = %d, want 1", f.dials.Load())
	}
}

// TestCircuitDisabled: a negative threshold dials every time.
func TestCircuitDisabled(t *testing.T) {
	f := newFactory()
	f.setErr(&kindErr{failure.Auth})
	p := newTestPool(t, f, circuitConfig(-1), nil)
	for range 3 {
		if _, err := p.Get(context.Background(), "a"); errors.Is(err, pool.ErrCircuitOpen) {
			t.Fatal(err)
		}
	}
	if f.dials.Load() != 3 {
		t.Errorf("dials = %d, want 3", f.dials.Load())
	}
}

// TestCircuitIgnoresCanceledDial: a dial canceled by Close does not count.
func TestCircuitIgnoresCanceledDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Refused})
		p := pool.NewPool(f, circuitConfig(1), nil)
		_, _ = p.Get(context.Background(), "a")
		time.Sleep(time.Minute)
		f.setErr(nil)
		f.block()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-f.entered; cancel() }()
		_, _ = p.Get(ctx, "a") // the trial dial goes on without the caller
		_ = p.Close()          // and is canceled by Close
		if s := p.GetSnapshot(); s.CircuitOpens != 1 {
			t.Errorf("circuit opens = %d, want 1", s.CircuitOpens)
		}
	})
}

func TestCircuitStateNames(t *testing.T) {
	b, err := json.Marshal(pool.KeyHealth{Key: "k", Circuit: pool.CircuitHalfOpen})
	if err != nil || !strings.Contains(string(b), `"circuit":"half-open"`) {
		t.Errorf("KeyHealth JSON = %s, %v; want the circuit named half-open", b, err)
	}
	e := &pool.CircuitError{Key: "k", State: pool.CircuitOpen}
	if !errors.Is(e, pool.ErrCircuitOpen) || !strings.Contains(e.Error(), "circuit open") {
		t.Error(e)
	}
}

// openUntil fails a Get on key fast and returns how long its circuit
// stays open from now.
func openUntil(t *testing.T, p pool.Pool, key string) time.Duration {
	t.Helper()
	_, err := p.Get(context.Background(), key)
	var ce *pool.CircuitError
	if !errors.As(err, &ce) {
		t.Fatalf("Get = %v, want a CircuitError", err)
	}
	return time.Until(ce.Until)
}

// TestCircuitShortRestartCostsBaseCooldown: fault tests found that with a
// flat 30 s cooldown a 0.5 s sshd restart became a 30 s outage. Now the
// first opening lasts CircuitBaseCooldown (±20 %), the trial after it
// succeeds, and the success resets the cooldown.
func TestCircuitShortRestartCostsBaseCooldown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Refused})
		p := newTestPool(t, f, testConfig(), nil) // threshold 5, base 200ms, cap 1s
		for range pool.DefaultCircuitThreshold {
			_, _ = p.Get(context.Background(), "a")
		}
		d := openUntil(t, p, "a")
		if base := pool.DefaultCircuitBaseCooldown; d < base*8/10 || d > base*12/10 {
			t.Fatalf("first cooldown %v, want %v ±20 %%", d, base)
		}
		f.setErr(nil) // sshd is back
		time.Sleep(d)
		c, err := p.Get(context.Background(), "a")
		if err != nil {
			t.Fatalf("trial Get = %v", err)
		}
		mustRelease(t, p, "a", c)
		if got := pool.CircuitCooldownFor(p, "a"); got != 0 {
			t.Errorf("cooldown after a successful trial = %v, want reset", got)
		}
		if f.dials.Load() != pool.DefaultCircuitThreshold+1 {
			t.Errorf("dials = %d, want the failures and one trial", f.dials.Load())
		}
	})
}

// TestCircuitCooldownDoublesToCap: each failed trial doubles the cooldown
// (200, 400, 800 ms, then the 1 s cap), each jittered by ±20 % but never
// past the cap, for every kind of failure; for an authentication failure
// when CircuitAuthCooldown is negative (no floor).
func TestCircuitCooldownDoublesToCap(t *testing.T) {
	for _, kind := range []failure.Kind{failure.Timeout, failure.HostKeyChanged, failure.Auth} {
		t.Run(kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFactory()
				f.setErr(&kindErr{kind})
				cfg := testConfig()
				cfg.Advanced.CircuitThreshold, cfg.Advanced.CircuitAuthCooldown = 1, -1
				p := newTestPool(t, f, cfg, nil)
				_, _ = p.Get(context.Background(), "a")
				for i, want := range []time.Duration{200, 400, 800, 1000, 1000, 1000} {
					want *= time.Millisecond
					if got := pool.CircuitCooldownFor(p, "a"); got != want {
						t.Fatalf("opening %d: cooldown %v, want %v", i, got, want)
					}
					d := openUntil(t, p, "a")
					if lo, hi := want*8/10, min(want*12/10, time.Second); d < lo || d > hi {
						t.Errorf("opening %d: open for %v, want %v..%v", i, d, lo, hi)
					}
					time.Sleep(d)
					if _, err := p.Get(context.Background(), "a"); err == nil || errors.Is(err, pool.ErrCircuitOpen) {
						t.Fatalf("trial %d = %v, want the dial error", i, err)
					}
				}
				if n := f.dials.Load(); n != 7 {
					t.Errorf("dials = %d, want 7 (the first and 6 trials)", n)
				}
			})
		})
	}
}

// TestCircuitAuthFailuresHeldToFloor: sshd penalises failed
// authentications (OpenSSH 9.8+: 5 s each, the source refused, for every
// user, past 15 s). A first failure gets a quick second trial; from the
// second failure in a row trials are at least CircuitAuthCooldown apart
// (jittered upwards only), so the penalty never accrues: 30 s of failures
// cost 8 dials at most, where trials a second apart would cost 30.
func TestCircuitAuthFailuresHeldToFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.Auth})
		p := newTestPool(t, f, testConfig(), nil)
		_, _ = p.Get(context.Background(), "a")
		if d := openUntil(t, p, "a"); d > pool.DefaultCircuitBaseCooldown*12/10 {
			t.Errorf("after the first failure: open for %v, want about %v", d, pool.DefaultCircuitBaseCooldown)
		}
		end := time.Now().Add(30 * time.Second)
		for time.Now().Before(end) {
			_, _ = p.Get(context.Background(), "a")
			time.Sleep(10 * time.Millisecond)
		}
		var ce *pool.CircuitError
		if _, err := p.Get(context.Background(), "a"); errors.As(err, &ce) {
			if d := time.Until(ce.Until); d > pool.DefaultCircuitAuthCooldown*12/10 {
				t.Errorf("open for %v, want at most %v", d, pool.DefaultCircuitAuthCooldown*12/10)
			}
		}
		if n := f.dials.Load(); n > 8 {
			t.Errorf("%d dials in 30s of authentication failures, want at most 8 (one per %v after the second)", n, pool.DefaultCircuitAuthCooldown)
		}
	})
}

// TestCircuitRecoversWithinCapAfterLongFault: the chaos run found the new
// pool failing 21.8 s after a host key was restored (a permanent failure
// opened the circuit for the full 30 s cooldown) and 6.7 s after a 30 s
// outage (the doubling had reached 16 s), where the legacy pool took
// 70 ms. The server-side fix is seen only by a trial, so trials keep
// coming at most CircuitCooldown apart: after a fault of any length the
// pool serves again within CircuitCooldown of its end (an authentication
// failure: CircuitAuthCooldown, see TestCircuitAuthFailuresHeldToFloor),
// while the dials during the fault stay bounded by about one per
// CircuitCooldown (callers here ask every 10 ms: 3,000 Gets in 30 s).
func TestCircuitRecoversWithinCapAfterLongFault(t *testing.T) {
	for _, kind := range []failure.Kind{failure.HostKeyChanged, failure.Refused, failure.Auth} {
		t.Run(kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFactory()
				f.setErr(&kindErr{kind})
				cfg := testConfig()
				limit := pool.DefaultCircuitCooldown // the longest wait for a trial
				if kind == failure.Auth {
					limit = pool.DefaultCircuitAuthCooldown * 12 / 10
				}
				p := newTestPool(t, f, cfg, nil)
				const fault = 30 * time.Second
				end := time.Now().Add(fault)
				for time.Now().Before(end) {
					if c, err := p.Get(context.Background(), "a"); err == nil {
						t.Fatalf("Get succeeded during the fault: %v", c)
					}
					time.Sleep(10 * time.Millisecond)
				}
				dials := f.dials.Load()
				// At most the threshold's failures, then one trial per
				// cooldown of at least 80 % of the schedule's values.
				if limit := int64(pool.DefaultCircuitThreshold) + int64(fault/(800*time.Millisecond)) + 3; dials > limit {
					t.Errorf("%d dials during a %v fault, want at most %d", dials, fault, limit)
				}
				f.setErr(nil)
				healed := time.Now()
				for {
					c, err := p.Get(context.Background(), "a")
					if err == nil {
						mustRelease(t, p, "a", c)
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if took := time.Since(healed); took > limit {
					t.Errorf("served again %v after the fault ended, want at most %v", took, limit)
				}
			})
		})
	}
}

// TestCircuitOpensOncePerOutage: failed trials keep the circuit open
// without reopening it: one circuit-open event and one CircuitOpens count
// per outage, however many trials it takes.
func TestCircuitOpensOncePerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		f.setErr(&kindErr{failure.HostKeyChanged})
		p := newTestPool(t, f, testConfig(), nil)
		events, cancel := p.SubscribeHealth(64)
		defer cancel()
		for range 4 {
			_, _ = p.Get(context.Background(), "a")
			time.Sleep(time.Second)
		}
		f.setErr(nil)
		c, err := p.Get(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		mustRelease(t, p, "a", c)
		synctest.Wait()
		want := "circuit-open,circuit-half-open,circuit-half-open,circuit-half-open,circuit-half-open,circuit-closed"
		if got := eventTypes(drainEvents(events)); got != want {
			t.Errorf("events = %s, want %s", got, want)
		}
		if s := p.GetSnapshot(); s.CircuitOpens != 1 {
			t.Errorf("circuit opens = %d, want 1", s.CircuitOpens)
		}
	})
}
