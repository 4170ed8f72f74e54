package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// fillIdle dials one idle connection for each key, in order, advancing
// the clock between them so Created and LastUsed are ordered.
func fillIdle(t *testing.T, p pool.Pool, clk *fakeClock, keys ...string) {
	t.Helper()
	for _, k := range keys {
		c := mustGet(t, p, k)
		mustRelease(t, p, k, c)
		p.Entries() // the pool stamps LastUsed when it looks (see poolEntry.lastUsedAt)
		clk.Advance(time.Second)
	}
}

func evictConfig(clk *fakeClock) pool.PoolConfig {
	cfg := testConfig()
	cfg.MaxConnections, cfg.MaxConnectionsPerKey = 3, 1
	cfg.Advanced.Clock = clk.Now
	return cfg
}

func keysOf(p pool.Pool) []string {
	var ks []string
	for _, e := range p.Entries() {
		ks = append(ks, e.Key)
	}
	return ks
}

// TestEvictionStrategies: each strategy picks its victim, and the eviction
// is traced once, as the victim's close with reason evicted and the
// strategy's name.
func TestEvictionStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy pool.EvictionStrategy
		touch    string // key used again before the new key arrives
		want     []string
		close    string // the victim's traced close
	}{
		{"lru", pool.LRU(), "a", []string{"a", "c", "d"}, "close b evicted strategy=lru"},
		{"fifo", pool.FIFO(), "a", []string{"b", "c", "d"}, "close a evicted strategy=fifo"},
		{"custom", pickStrategy(func(c []pool.EntryInfo) int { return len(c) - 1 }), "a", []string{"a", "b", "d"}, "close c evicted strategy=pick"},
		{"nil-is-lru", nil, "b", []string{"b", "c", "d"}, "close a evicted strategy=lru"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			rec := &recTracer{}
			p := newTestPool(t, newFactory(), evictConfig(clk), rec.hooks())
			p.SetEvictionStrategy(tc.strategy)
			fillIdle(t, p, clk, "a", "b", "c", tc.touch)
			fillIdle(t, p, clk, "d")
			if got := keysOf(p); !equal(got, tc.want) {
				t.Errorf("keys after eviction = %v, want %v", got, tc.want)
			}
			if s := p.GetSnapshot(); s.ClosedByReason[pool.ReasonEvicted] != 1 || s.Total != 3 {
				t.Errorf("evicted=%d total=%d, want 1, 3", s.ClosedByReason[pool.ReasonEvicted], s.Total)
			}
			if got := rec.matching("close "); len(got) != 1 || got[0] != tc.close {
				t.Errorf("traced closes %q, want [%q]", got, tc.close)
			}
		})
	}
}

// TestLoweredLimitsTraceTheStrategyThatChose: a lowered
// MaxConnectionsPerKey closes a key's surplus without asking the eviction
// strategy, so those closes (reason limit) name none; a lowered
// MaxConnections is enforced pool-wide by the strategy, so those name it.
func TestLoweredLimitsTraceTheStrategyThatChose(t *testing.T) {
	clk := newClock()
	rec := &recTracer{}
	cfg := evictConfig(clk)
	cfg.MaxConnections, cfg.MaxConnectionsPerKey, cfg.MaxSessionsPerConnection = 4, 2, 1
	p := newTestPool(t, newFactory(), cfg, rec.hooks())
	p.SetEvictionStrategy(pool.FIFO())
	a1, a2 := mustGet(t, p, "a"), mustGet(t, p, "a")
	mustRelease(t, p, "a", a1)
	mustRelease(t, p, "a", a2)
	clk.Advance(time.Second)
	fillIdle(t, p, clk, "b", "c")
	next := cfg
	next.MaxConnectionsPerKey = 1
	if err := p.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if got := rec.matching("close "); len(got) != 1 || got[0] != "close a limit" {
		t.Errorf("closes after lowering MaxConnectionsPerKey %q, want [close a limit]", got)
	}
	next.MaxConnections = 2
	if err := p.UpdateConfig(next); err != nil {
		t.Fatal(err)
	}
	if got := rec.matching("close "); len(got) != 2 || got[1] != "close a limit strategy=fifo" {
		t.Errorf("closes after lowering MaxConnections %q, want one more, close a limit strategy=fifo", got)
	}
	if got := keysOf(p); !equal(got, []string{"b", "c"}) {
		t.Errorf("keys = %v, want [b c]", got)
	}
}

func TestStrategyRefusingMakesGetWait(t *testing.T) {
	clk := newClock()
	p := newTestPool(t, newFactory(), evictConfig(clk), nil)
	p.SetEvictionStrategy(pickStrategy(func([]pool.EntryInfo) int { return -1 }))
	fillIdle(t, p, clk, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, "d"); !errors.Is(err, pool.ErrPoolExhausted) {
		t.Fatalf("Get = %v, want ErrPoolExhausted", err)
	}
	if pool.LRU().Name() != "lru" || pool.FIFO().Name() != "fifo" {
		t.Errorf("strategy names %q, %q; want lru, fifo", pool.LRU().Name(), pool.FIFO().Name())
	}
}

// pickStrategy is a custom EvictionStrategy named "pick" that selects with f.
type pickStrategy func([]pool.EntryInfo) int

func (pickStrategy) Name() string                          { return "pick" }
func (f pickStrategy) SelectVictim(c []pool.EntryInfo) int { return f(c) }

func TestPoolWideLimitWaitsThenEvictsOnRelease(t *testing.T) {
	clk := newClock()
	f := newFactory()
	p := newTestPool(t, f, evictConfig(clk), nil)
	held := []pool.SSHClient{mustGet(t, p, "a"), mustGet(t, p, "b"), mustGet(t, p, "c")}
	got := make(chan pool.SSHClient)
	go func() {
		c, err := p.Get(context.Background(), "d")
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	waitFor(t, func() bool { return pool.WaitersFor(p, "d") == 1 })
	mustRelease(t, p, "b", held[1])
	c := <-got
	if c.RemoteAddr() == nil || f.maxOpen.Load() > 3 {
		t.Errorf("max open = %d, want ≤ 3", f.maxOpen.Load())
	}
	mustRelease(t, p, "d", c)
	mustRelease(t, p, "a", held[0])
	mustRelease(t, p, "c", held[2])
	if got := keysOf(p); !equal(got, []string{"a", "c", "d"}) {
		t.Errorf("keys = %v", got)
	}
}

func TestStrategySwitchUnderLoad(t *testing.T) {
	clk := newClock()
	cfg := evictConfig(clk)
	cfg.MaxConnections = 4
	p := newTestPool(t, newFactory(), cfg, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				k := string(rune('a' + (g+i)%6))
				c, err := p.Get(context.Background(), k)
				if err != nil {
					t.Error(err)
					return
				}
				_ = p.Release(k, c)
			}
		}()
	}
	for i := range 20 {
		if i%2 == 0 {
			p.SetEvictionStrategy(pool.FIFO())
		} else {
			p.SetEvictionStrategy(pool.LRU())
		}
	}
	wg.Wait()
	if err := pool.CheckInvariants(p); err != nil {
		t.Fatal(err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLastUsedIsFirstSeenReleased: LastUsed is the time of the first look
// (here Entries) after a release, whatever leases are held meanwhile, and
// a look without a release since the previous one changes nothing.
func TestLastUsedIsFirstSeenReleased(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.Advanced.Clock = clk.Now
	p := newTestPool(t, newFactory(), cfg, nil)
	lastUsed := func() time.Time {
		t.Helper()
		es := p.Entries()
		if len(es) != 1 {
			t.Fatalf("%d entries, want 1", len(es))
		}
		return es[0].LastUsed
	}
	created := clk.Now()
	held := mustGet(t, p, "a") // dials; not released yet
	clk.Advance(time.Second)
	if got := lastUsed(); !got.Equal(created) {
		t.Fatalf("LastUsed %v before any release; want the creation, %v", got, created)
	}
	clk.Advance(time.Second)
	c := mustGet(t, p, "a") // a second lease on the same connection
	mustRelease(t, p, "a", c)
	clk.Advance(time.Second)
	seen := clk.Now()
	if got := lastUsed(); !got.Equal(seen) {
		t.Fatalf("LastUsed %v after a release (one lease still held); want the look, %v", got, seen)
	}
	clk.Advance(time.Second)
	if got := lastUsed(); !got.Equal(seen) {
		t.Fatalf("LastUsed %v after a look without release; want %v unchanged", got, seen)
	}
	mustRelease(t, p, "a", held)
	clk.Advance(time.Second)
	if got := lastUsed(); !got.Equal(clk.Now()) {
		t.Fatalf("LastUsed %v after the last release; want the look, %v", got, clk.Now())
	}
}
