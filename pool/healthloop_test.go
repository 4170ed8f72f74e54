package pool_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

// drainEvents returns the events buffered on ch without blocking.
func drainEvents(ch <-chan pool.HealthEvent) []pool.HealthEvent {
	var out []pool.HealthEvent
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

func eventTypes(evs []pool.HealthEvent) string {
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Type))
	}
	return strings.Join(s, ",")
}

// TestLostConnectionRetiredAtOnce: a client whose Done closes is retired
// by its watcher without a probe or a Get, counted, traced and published.
func TestLostConnectionRetiredAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		rec := &recTracer{}
		p := newTestPool(t, f, testConfig(), rec.hooks())
		events, cancel := p.SubscribeHealth(8)
		defer cancel()
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		f.client(0).lieAlive.Store(true) // only Done tells
		f.client(0).kill()
		synctest.Wait()
		s := p.GetSnapshot()
		if s.ClosedByReason[pool.ReasonUnhealthy] != 1 || s.Replacements != 1 || s.Idle != 1 {
			t.Fatalf("closed unhealthy=%d replacements=%d idle=%d, want 1, 1, 1 (replaced: just used)",
				s.ClosedByReason[pool.ReasonUnhealthy], s.Replacements, s.Idle)
		}
		if got := eventTypes(drainEvents(events)); got != "lost,replacing" {
			t.Errorf("events = %s, want lost,replacing", got)
		}
		if !rec.has("state a idle->unhealthy unhealthy") {
			t.Errorf("trace: %v", rec.events)
		}
		c := mustGet(t, p, "a")
		if pool.Underlying(c) == pool.SSHClient(f.client(0)) {
			t.Error("dead connection handed out")
		}
		mustRelease(t, p, "a", c)
		if f.dials.Load() != 2 {
			t.Errorf("dials = %d, want 2 (the Get used the replacement)", f.dials.Load())
		}
	})
}

// TestLostBusyConnectionFinishesLeases: a dead connection with a lease is
// retired at once (no new leases) and closed when the lease ends.
func TestLostBusyConnectionFinishesLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		p := newTestPool(t, f, testConfig(), nil)
		held := mustGet(t, p, "a")
		f.client(0).lieAlive.Store(true)
		close(f.client(0).done) // the connection dies; Close not called yet
		synctest.Wait()
		if s := p.GetSnapshot(); s.Unhealthy != 1 {
			t.Fatalf("unhealthy=%d, want 1", s.Unhealthy)
		}
		c := mustGet(t, p, "a") // a new connection, not the dead one
		if pool.ConnID(c) == pool.ConnID(held) {
			t.Error("dead connection leased")
		}
		mustRelease(t, p, "a", c)
		f.client(0).closeOnce.Do(func() { f.client(0).closed.Store(true); f.client(0).f.open.Add(-1) })
		mustRelease(t, p, "a", held)
		if s := p.GetSnapshot(); s.Unhealthy != 0 || s.ClosedByReason[pool.ReasonUnhealthy] != 1 {
			t.Errorf("after release unhealthy=%d closed=%d", s.Unhealthy, s.ClosedByReason[pool.ReasonUnhealthy])
		}
	})
}

// TestLostConnectionReplacedInBackground: a recently used connection that
// dies is replaced without waiting for a Get; an unused key's is not
// (outside its use window).
func TestLostConnectionReplacedInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := testConfig()
		cfg.HealthInterval = time.Minute
		p := newTestPool(t, f, cfg, nil)
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		mustRelease(t, p, "b", mustGet(t, p, "b"))
		_ = p.Entries() // stamps both releases
		f.client(0).kill()
		synctest.Wait()
		if s := p.GetSnapshot(); s.Replacements != 1 || s.Created != 3 || s.Idle != 2 {
			t.Fatalf("replacements=%d created=%d idle=%d, want 1, 3, 2", s.Replacements, s.Created, s.Idle)
		}
		time.Sleep(2 * time.Minute) // b falls out of its use window
		f.client(1).kill()
		synctest.Wait()
		if s := p.GetSnapshot(); s.Replacements != 1 || s.Idle != 1 {
			t.Errorf("unused key replaced: replacements=%d idle=%d", s.Replacements, s.Idle)
		}
	})
}

// TestWarmKeysToppedUpByHealthLoop: a warm-up key that lost its used
// connection is refilled to WarmupConnections at once and, when that dial
// failed, at the next health tick.
func TestWarmKeysToppedUpByHealthLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := testConfig()
		cfg.WarmupKeys, cfg.WarmupConnections, cfg.HealthInterval = []string{"w"}, 1, time.Minute
		p := newTestPool(t, f, cfg, nil)
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		mustRelease(t, p, "w", mustGet(t, p, "w")) // used: replaced at once when lost
		f.setErr(&kindErr{failure.Refused})
		f.client(0).kill()
		synctest.Wait()
		if s := p.GetSnapshot(); s.Replacements != 1 || s.Idle != 0 {
			t.Fatalf("replacements=%d idle=%d, want a failed replacement", s.Replacements, s.Idle)
		}
		f.setErr(nil)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s := p.GetSnapshot(); s.Replacements != 2 || s.Idle != 1 {
			t.Errorf("replacements=%d idle=%d, want the tick to refill", s.Replacements, s.Idle)
		}
	})
}

// TestHealthLoopProbesIdleAndSilentBusy: the loop probes idle connections
// and busy ones without a release for an interval, not busy ones that
// keep completing leases.
func TestHealthLoopProbesIdleAndSilentBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &countingMonitor{}
		cfg := testConfig()
		cfg.HealthInterval, cfg.CleanupInterval = time.Minute, -1
		p := newPoolWithMonitor(newFactory(), cfg, m)
		defer p.Close()
		mustRelease(t, p, "idle", mustGet(t, p, "idle"))
		silent := mustGet(t, p, "silent")
		active := mustGet(t, p, "active")
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for range 3 { // "active" completes a lease every 30s
			time.Sleep(30 * time.Second)
			mustRelease(t, p, "active", active)
			active = mustGet(t, p, "active")
		}
		synctest.Wait()
		byKey := map[string]bool{}
		for _, e := range p.Entries() {
			byKey[e.Key] = !e.LastHealthCheck.IsZero()
		}
		if !byKey["idle"] || !byKey["silent"] || byKey["active"] {
			t.Errorf("probed = %v, want idle and silent only", byKey)
		}
		if m.n.Load() != 2 {
			t.Errorf("probes = %d, want 2 (one tick, at 54–60 s)", m.n.Load())
		}
		mustRelease(t, p, "silent", silent)
		mustRelease(t, p, "active", active)
	})
}

// TestHealthLoopRecordsHistory: once started, the pool records a snapshot
// at every health tick (about one per HealthInterval) and keeps the last
// HistorySize; before Start there is none.
func TestHealthLoopRecordsHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.HealthInterval, cfg.CleanupInterval, cfg.HistorySize = time.Minute, -1, 3
		p := pool.NewPool(newFactory(), cfg, nil)
		defer p.Close()
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		time.Sleep(5 * time.Minute)
		if h := p.History(); len(h) != 0 {
			t.Fatalf("history before Start has %d snapshots", len(h))
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 5 { // ticks at 54–60 s
			time.Sleep(time.Minute)
			synctest.Wait()
			if got, want := len(p.History()), min(i+1, 3); got != want {
				t.Fatalf("after %d intervals: %d snapshots, want %d", i+1, got, want)
			}
			mustRelease(t, p, "a", mustGet(t, p, "a"))
		}
		h := p.History()
		if h[0].Gets != 3 || h[2].Gets != 5 || !h[0].Time.Before(h[2].Time) || h[2].Total != 1 {
			t.Errorf("history = gets %d..%d, times %v..%v, total %d; want the last three ticks",
				h[0].Gets, h[2].Gets, h[0].Time, h[2].Time, h[2].Total)
		}
	})
}

// slowMonitor answers every probe after d (of synctest's fake time).
type slowMonitor struct {
	d time.Duration
	n atomic.Int64
}

func (m *slowMonitor) CheckHealth(ctx context.Context, _ string, _ pool.SSHClient) error {
	m.n.Add(1)
	time.Sleep(m.d)
	return nil
}

// TestHealthLoopProbesEveryTick: an idle connection is probed at every
// tick, although its last probe finished a few seconds after the previous
// tick began (so, compared exactly, it is a little short of one interval
// old). Otherwise a connection that died right after a probe would be
// found two intervals later, not one.
func TestHealthLoopProbesEveryTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &slowMonitor{d: 10 * time.Second}
		cfg := testConfig()
		cfg.HealthInterval, cfg.HealthTimeout, cfg.CleanupInterval = time.Minute, 20*time.Second, -1
		p := newPoolWithMonitor(newFactory(), cfg, m)
		defer p.Close()
		mustRelease(t, p, "idle", mustGet(t, p, "idle"))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*time.Minute + 30*time.Second) // ticks 54–60 s apart: 10 or 11
		synctest.Wait()
		if n := m.n.Load(); n < 10 || n > 11 {
			t.Errorf("probes in 10.5 min at a 1 min interval = %d, want 10 or 11 (one per tick)", n)
		}
	})
}

// dyingMonitor answers probes until dead is set, then hangs each probe
// until its context ends (a half-open connection). probed receives after
// every answered probe.
type dyingMonitor struct {
	dead   atomic.Bool
	probed chan struct{}
}

func (m *dyingMonitor) CheckHealth(ctx context.Context, _ string, _ pool.SSHClient) error {
	if m.dead.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case m.probed <- struct{}{}:
	default:
	}
	return nil
}

// TestHalfOpenFoundWithinIntervalPlusTimeout: an idle connection that goes
// half-open right after a probe (the worst moment) is marked unhealthy
// within HealthInterval + HealthTimeout, whatever the jitter drew.
func TestHalfOpenFoundWithinIntervalPlusTimeout(t *testing.T) {
	const interval, timeout = time.Minute, 10 * time.Second
	for range 10 {
		synctest.Test(t, func(t *testing.T) {
			m := &dyingMonitor{probed: make(chan struct{}, 1)}
			cfg := testConfig()
			cfg.HealthInterval, cfg.HealthTimeout, cfg.CleanupInterval = interval, timeout, -1
			p := newPoolWithMonitor(newFactory(), cfg, m)
			defer p.Close()
			events, cancel := p.SubscribeHealth(16)
			defer cancel()
			mustRelease(t, p, "a", mustGet(t, p, "a"))
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			<-m.probed
			m.dead.Store(true)
			stalled := time.Now()
			for ev := range events {
				if ev.Type == pool.EventUnhealthy {
					if d := ev.Time.Sub(stalled); d > interval+timeout {
						t.Errorf("half-open connection found after %v, want ≤ %v", d, interval+timeout)
					}
					return
				}
			}
		})
	}
}

// keyedMonitor counts probes per key and gives some keys their own
// interval (as PoolHealthMonitor gives).
type keyedMonitor struct {
	intervals map[string]time.Duration
	mu        sync.Mutex
	probes    map[string]int
}

func (m *keyedMonitor) CheckHealth(_ context.Context, key string, _ pool.SSHClient) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.probes[key]++
	return nil
}

func (m *keyedMonitor) HealthConfigFor(key string) pool.HealthConfig {
	return pool.HealthConfig{Interval: m.intervals[key]}
}

// TestPerKeyIntervalShorterThanPool: a key configured with a shorter
// interval than the pool's is probed at its own pace; the others keep the
// pool's.
func TestPerKeyIntervalShorterThanPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &keyedMonitor{intervals: map[string]time.Duration{"fast": 10 * time.Second}, probes: map[string]int{}}
		cfg := testConfig()
		cfg.HealthInterval, cfg.CleanupInterval = time.Minute, -1
		p := newPoolWithMonitor(newFactory(), cfg, m)
		defer p.Close()
		mustRelease(t, p, "fast", mustGet(t, p, "fast"))
		mustRelease(t, p, "slow", mustGet(t, p, "slow"))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Minute + 5*time.Second)
		synctest.Wait()
		m.mu.Lock()
		fast, slow := m.probes["fast"], m.probes["slow"]
		m.mu.Unlock()
		// Ticks every 9–10 s: fast is due at each, slow every 55–64 s.
		if fast < 18 || fast > 20 || slow < 2 || slow > 3 {
			t.Errorf("probes in 185 s: fast %d (want 18–20, every 10 s), slow %d (want 2–3, every minute)", fast, slow)
		}
	})
}

// hangMonitor blocks every probe until its context ends.
type hangMonitor struct{ calls atomic.Int64 }

func (m *hangMonitor) CheckHealth(ctx context.Context, _ string, _ pool.SSHClient) error {
	m.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// TestProbeTimeoutClosesClient: a probe that hangs past HealthTimeout
// closes the client and retires the connection at once.
func TestProbeTimeoutClosesClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := testConfig()
		cfg.HealthTimeout = time.Second
		p := newPoolWithMonitor(f, cfg, &hangMonitor{})
		defer p.Close()
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		rep := p.HealthCheck(context.Background())
		if rep.Unhealthy != 1 || !f.client(0).closed.Load() {
			t.Fatalf("report %+v, client closed %t", rep, f.client(0).closed.Load())
		}
		if !errors.Is(errors.New(rep.Failures[0].Err), context.DeadlineExceeded) && !strings.Contains(rep.Failures[0].Err, "deadline") {
			t.Errorf("failure = %q", rep.Failures[0].Err)
		}
		synctest.Wait()
		if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonUnhealthy] != 1 {
			t.Errorf("closed unhealthy = %d, want 1", s.ClosedByReason[pool.ReasonUnhealthy])
		}
		for _, e := range p.Entries() {
			if e.ID == 1 {
				t.Errorf("hung connection still pooled: %v", e)
			}
		}
	})
}

// TestPerKeyHealthConfig: a key's threshold needs that many consecutive
// failures; its command replaces the keepalive; RTT is recorded.
func TestPerKeyHealthConfig(t *testing.T) {
	f := newFactory()
	m := pool.NewPoolHealthMonitor(pool.HealthConfig{})
	m.SetKeyConfig("two", pool.HealthConfig{Threshold: 2})
	m.SetKeyConfig("cmd", pool.HealthConfig{Command: "fail"})
	p := newPoolWithMonitor(f, testConfig(), m)
	defer p.Close()
	for _, k := range []string{"two", "cmd"} {
		mustRelease(t, p, k, mustGet(t, p, k))
	}
	dead := errors.New("no reply")
	f.client(0).keepErr.Store(&dead)
	rep := p.HealthCheck(context.Background())
	if rep.Unhealthy != 2 || rep.Status != pool.StatusDegraded {
		t.Fatalf("report %+v", rep)
	}
	if f.client(0).closed.Load() || !f.client(1).closed.Load() {
		t.Fatal("want two kept (1 of 2 failures), cmd closed")
	}
	if kh := rep.Keys[len(rep.Keys)-1]; kh.Key != "two" || kh.Usable != 1 || kh.Conns[0].LastErr != "no reply" {
		t.Errorf("key report %+v", kh)
	}
	_ = p.HealthCheck(context.Background())
	if !f.client(0).closed.Load() {
		t.Error("second failure did not close two")
	}
	if got := m.HealthConfigFor("other"); got != (pool.HealthConfig{}) {
		t.Errorf("default config = %+v", got)
	}
}

// TestHealthCheckRecordsRTTAndVerdict covers the healthy verdict and the
// RTT average.
func TestHealthCheckRecordsRTTAndVerdict(t *testing.T) {
	f := newFactory()
	m := pool.NewPoolHealthMonitor(pool.HealthConfig{Command: "ok"})
	m.SetKeyConfig("ka", pool.HealthConfig{})
	p := newPoolWithMonitor(f, testConfig(), m)
	defer p.Close()
	mustRelease(t, p, "a", mustGet(t, p, "a"))
	mustRelease(t, p, "ka", mustGet(t, p, "ka"))
	for range 2 {
		if rep := p.HealthCheck(context.Background()); rep.Status != pool.StatusHealthy || !rep.Ready() || rep.Healthy != 2 {
			t.Fatalf("report %+v", rep)
		}
	}
	if f.client(0).runs.Load() != 2 {
		t.Errorf("command probes = %d, want 2", f.client(0).runs.Load())
	}
	for _, e := range p.Entries() {
		if e.RTT < 0 || e.AvgRTT < 0 {
			t.Errorf("%s rtt %v avg %v", e.Key, e.RTT, e.AvgRTT)
		}
	}
	if b, err := json.Marshal(pool.HealthReport{Status: pool.StatusUnhealthy}); err != nil || !strings.Contains(string(b), `"status":"unhealthy"`) {
		t.Errorf("HealthReport JSON = %s, %v; want the status named unhealthy", b, err)
	}
}

// TestSubscribeDropsWhenFull: a full subscriber never blocks the pool;
// the drop is counted; cancel closes the channel and is idempotent.
func TestSubscribeDropsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		p := newTestPool(t, f, testConfig(), nil)
		ch, cancel := p.SubscribeHealth(0)
		for i := range 3 {
			c := mustGet(t, p, "a")
			mustRelease(t, p, "a", c)
			f.client(i).kill()
			synctest.Wait()
		}
		if n := len(drainEvents(ch)); n != 1 || p.GetSnapshot().EventsDropped == 0 {
			t.Errorf("received %d, dropped %d", n, p.GetSnapshot().EventsDropped)
		}
		cancel()
		cancel()
		if _, ok := <-ch; ok {
			t.Error("channel open after cancel")
		}
	})
}

// TestWatcherShards: connections beyond one watcher's 64 get another;
// deaths anywhere in a shard retire exactly that connection, and the
// survivors stay watched.
func TestWatcherShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 150
		f := newFactory()
		cfg := pool.PoolConfig{MaxConnections: n, MaxConnectionsPerKey: 1, HealthInterval: -1, CleanupInterval: -1}
		p := newTestPool(t, f, cfg, nil)
		for i := range n {
			k := fmt.Sprintf("k%d", i)
			mustRelease(t, p, k, mustGet(t, p, k))
		}
		_ = p.Entries()       // stamps the releases
		time.Sleep(time.Hour) // out of the replacement window
		before := bubbleGoroutines()
		for _, i := range []int{0, 63, 64, 100, 149, 5} {
			f.client(i).kill()
		}
		synctest.Wait()
		if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonUnhealthy] != 6 || s.Idle != n-6 {
			t.Fatalf("closed unhealthy=%d idle=%d", s.ClosedByReason[pool.ReasonUnhealthy], s.Idle)
		}
		f.client(1).kill() // a survivor moved by the swaps is still watched
		synctest.Wait()
		if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonUnhealthy] != 7 {
			t.Errorf("closed unhealthy=%d, want 7", s.ClosedByReason[pool.ReasonUnhealthy])
		}
		if g := bubbleGoroutines(); g != before {
			t.Errorf("goroutines %d → %d", before, g)
		}
	})
}

// bubbleGoroutines counts the goroutines in the caller's synctest bubble.
// runtime.NumGoroutine counts the whole process, where goroutines of
// earlier tests may still be ending.
func bubbleGoroutines() int {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 2) // runtime.Stack's format
	// The caller's own header comes first: "goroutine N [running,
	// synctest bubble B]:".
	first, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	_, bubble, ok := bytes.Cut(first, []byte("synctest bubble "))
	if !ok {
		panic("bubbleGoroutines called outside a synctest bubble: " + string(first))
	}
	mark := append([]byte("synctest bubble "), bubble...) // "B]:"
	count := 0
	for line := range bytes.Lines(buf.Bytes()) {
		if bytes.HasPrefix(line, []byte("goroutine ")) && bytes.Contains(line, mark) {
			count++
		}
	}
	return count
}

// TestHealthCheckCanceledCountsNothing: probes cut short by the caller's
// context are not failures.
func TestHealthCheckCanceledCountsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPoolWithMonitor(newFactory(), testConfig(), &hangMonitor{})
		defer p.Close()
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		rep := p.HealthCheck(ctx)
		if rep.Checked != 0 || rep.Unhealthy != 0 || p.GetSnapshot().HealthFailures != 0 || p.GetSnapshot().Idle != 1 {
			t.Errorf("report %+v, snapshot %+v", rep, p.GetSnapshot())
		}
	})
}

// TestFlappingServerNotRedialledInALoop: a server that drops every new
// connection at once costs one replacement per lost used connection, not
// a dial loop; a warm-up key is refilled once per health tick.
func TestFlappingServerNotRedialledInALoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFactory()
		cfg := testConfig()
		cfg.HealthInterval, cfg.CleanupInterval = time.Minute, -1
		cfg.WarmupKeys, cfg.WarmupConnections = []string{"w"}, 1
		p := newTestPool(t, f, cfg, nil)
		mustRelease(t, p, "a", mustGet(t, p, "a"))
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var flapping atomic.Bool
		flapping.Store(true)
		done := make(chan struct{})
		go func() { // the server drops every connection as soon as it is up
			defer close(done)
			for flapping.Load() {
				f.mu.Lock()
				clients := append([]*fakeClient(nil), f.clients...)
				f.mu.Unlock()
				for _, c := range clients {
					c.kill()
				}
				time.Sleep(time.Second)
			}
		}()
		time.Sleep(150 * time.Second) // two health ticks
		flapping.Store(false)
		<-done
		synctest.Wait()
		// a and w, a's replacement, w's immediate refill, w's refill at two ticks.
		if n := f.dials.Load(); n > 6 {
			t.Errorf("dials = %d, want at most 6", n)
		}
	})
}
