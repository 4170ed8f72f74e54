package pool_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// TestStress mixes random operations from many goroutines over few keys
// and tight limits, checking the pool's invariants after every step and,
// independently of the pool's own bookkeeping, that no connection ever
// carries more leases than allowed and no more clients are open than
// MaxConnections. It is bounded in operations (and so in time). The pool
// is started with millisecond health, cleanup and leak intervals, so the
// background loops, death watchers and replacement dials race with it.
func TestStress(t *testing.T) {
	const (
		goroutines = 24
		opsEach    = 250
		keys       = 7
	)
	f := newFactory()
	cfg := pool.PoolConfig{MaxConnections: 5, MaxConnectionsPerKey: 2, MaxSessionsPerConnection: 3,
		DialTimeout: 5 * time.Second, HealthInterval: 2 * time.Millisecond, HealthTimeout: time.Millisecond,
		CleanupInterval: time.Millisecond, MaxIdleTime: time.Millisecond, LeakThreshold: time.Millisecond,
		WarmupKeys: []string{"k0"}, WarmupConnections: 1,
		Advanced: pool.AdvancedPoolConfig{RetryBackoff: time.Microsecond}}
	p := pool.NewPool(f, cfg, nil)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex // guards inUse
		inUse = map[pool.SSHClient]int{}
		ops   atomic.Int64
	)
	lease := func(c pool.SSHClient, d int) error {
		mu.Lock()
		defer mu.Unlock()
		u := pool.Underlying(c)
		inUse[u] += d
		if inUse[u] > cfg.MaxSessionsPerConnection {
			return fmt.Errorf("client has %d leases", inUse[u])
		}
		return nil
	}
	step := func(r *rand.Rand) error {
		key := fmt.Sprintf("k%d", r.IntN(keys))
		switch n := r.IntN(100); {
		case n < 3:
			if r.IntN(2) == 0 {
				p.SetEvictionStrategy(pool.FIFO())
			} else {
				p.SetEvictionStrategy(pool.LRU())
			}
			return nil
		case n < 5:
			p.HealthCheck(context.Background())
			return nil
		case n < 7:
			f.mu.Lock()
			var victim *fakeClient
			if len(f.clients) > 0 {
				victim = f.clients[r.IntN(len(f.clients))]
			}
			f.mu.Unlock()
			if victim != nil {
				victim.kill()
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
		defer cancel()
		c, err := p.Get(ctx, key)
		if err != nil {
			var we *pool.WaitError
			if errors.As(err, &we) && errors.Is(err, ctx.Err()) {
				return nil
			}
			return fmt.Errorf("Get: %w", err)
		}
		if err := lease(c, +1); err != nil {
			return err
		}
		cmd := "ok"
		if r.IntN(20) == 0 {
			cmd = "lost"
		}
		_, _ = c.Run(context.Background(), cmd)
		if err := lease(c, -1); err != nil {
			return err
		}
		if r.IntN(2) == 0 {
			err = c.Close()
		} else {
			err = p.Release(key, c)
		}
		if err != nil {
			return fmt.Errorf("Release: %w", err)
		}
		if r.IntN(10) == 0 && !errors.Is(p.Release(key, c), pool.ErrLeaseReleased) {
			return errors.New("double release not detected")
		}
		return nil
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for range opsEach {
				err := step(r)
				if err == nil {
					err = pool.CheckInvariants(p)
				}
				if n := f.open.Load(); err == nil && n > int64(cfg.MaxConnections) {
					err = fmt.Errorf("%d clients open > MaxConnections", n)
				}
				if err != nil {
					t.Error(err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	s := p.GetSnapshot()
	if s.LeasesOutstanding != 0 || s.Waiting != 0 {
		t.Errorf("before Close: outstanding=%d waiting=%d", s.LeasesOutstanding, s.Waiting)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s = p.GetSnapshot()
	if s.Total != 0 || s.LeasesOutstanding != 0 || s.Dialing != 0 || s.Keys != 0 || f.open.Load() != 0 {
		t.Errorf("after Close: %+v, clients open %d", s, f.open.Load())
	}
	if f.maxOpen.Load() > int64(cfg.MaxConnections) {
		t.Errorf("max clients open %d > %d", f.maxOpen.Load(), cfg.MaxConnections)
	}
	t.Logf("%d ops, %d gets, %d waits, %d dials, %d evicted, %d unhealthy, %d idle, %d replaced, %d probes, %d leaks",
		ops.Load(), s.Gets, s.WaitCount, s.Dials, s.ClosedByReason[pool.ReasonEvicted],
		s.ClosedByReason[pool.ReasonUnhealthy], s.ClosedByReason[pool.ReasonIdle], s.Replacements, s.HealthChecks, s.Leaks)
}

// TestStressConfigChangesAndCloseUnderLoad changes limits while many
// goroutines lease, then closes the pool while they still run. Nothing may
// panic, hang or leak; counts must settle to zero.
func TestStressConfigChangesAndCloseUnderLoad(t *testing.T) {
	f := newFactory()
	base := pool.PoolConfig{MaxConnections: 6, MaxConnectionsPerKey: 2, MaxSessionsPerConnection: 2,
		DialTimeout: 5 * time.Second, Advanced: pool.AdvancedPoolConfig{RetryBackoff: time.Microsecond}}
	p := pool.NewPool(f, base, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k%d", r.IntN(6))
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(2000))*time.Microsecond)
				_, err := p.Run(ctx, key, "ok")
				cancel()
				if errors.Is(err, pool.ErrPoolClosed) {
					return
				}
				var we *pool.WaitError
				if err != nil && !errors.As(err, &we) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Run: %v", err)
					return
				}
			}
		}()
	}
	for i := range 60 {
		cfg := base
		cfg.MaxConnections, cfg.MaxConnectionsPerKey = 4+i%3, 1+i%2
		if err := p.UpdateConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if f.open.Load() > 6 {
			t.Fatalf("%d clients open > 6", f.open.Load())
		}
		time.Sleep(100 * time.Microsecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.CloseContext(ctx)
	close(stop)
	wg.Wait()
	s := p.GetSnapshot()
	if s.Total != 0 || s.LeasesOutstanding != 0 || f.open.Load() != 0 {
		t.Errorf("after close: total=%d outstanding=%d clients=%d", s.Total, s.LeasesOutstanding, f.open.Load())
	}
}
