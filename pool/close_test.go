package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

func TestCloseFailsWaitersAndClosesEverything(t *testing.T) {
	f := newFactory()
	p := pool.NewPool(f, oneSlotConfig(), nil)
	held := mustGet(t, p, "a")
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(context.Background(), "a")
		errc <- err
	}()
	waitFor(t, func() bool { return pool.WaitersFor(p, "a") == 1 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("waiter got %v, want ErrPoolClosed", err)
	}
	if f.open.Load() != 0 {
		t.Errorf("%d clients open after Close", f.open.Load())
	}
	if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("Get after Close = %v", err)
	}
	if _, err := p.Run(context.Background(), "a", "ok"); !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("Run after Close = %v", err)
	}
	if err := p.Release("a", held); err != nil {
		t.Errorf("Release after Close = %v, want nil", err)
	}
	if err := p.Release("a", held); !errors.Is(err, pool.ErrLeaseReleased) {
		t.Errorf("second Release after Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	s := p.GetSnapshot()
	if s.Total != 0 || s.LeasesOutstanding != 0 || s.ClosedByReason[pool.ReasonPoolClosed] != 1 {
		t.Errorf("after Close: total=%d out=%d closed=%v", s.Total, s.LeasesOutstanding, s.ClosedByReason)
	}
	if err := p.Warmup(context.Background()); !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("Warmup after Close = %v", err)
	}
	if err := p.UpdateConfig(testConfig()); !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("UpdateConfig after Close = %v", err)
	}
}

func TestCloseContextDrainsLeases(t *testing.T) {
	f := newFactory()
	p := pool.NewPool(f, testConfig(), nil)
	busy := mustGet(t, p, "a")
	idle := mustGet(t, p, "b")
	mustRelease(t, p, "b", idle)
	done := make(chan error, 1)
	go func() { done <- p.CloseContext(context.Background()) }()
	waitFor(t, func() bool { return f.open.Load() == 1 }) // idle b closed at once
	if _, err := busy.Run(context.Background(), "ok"); err != nil {
		t.Errorf("lease in flight broken during drain: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("CloseContext returned %v with a lease outstanding", err)
	default:
	}
	mustRelease(t, p, "a", busy)
	if err := <-done; err != nil {
		t.Fatalf("CloseContext = %v", err)
	}
	if f.open.Load() != 0 {
		t.Error("connections left open")
	}
}

func TestCloseContextForcesAtDeadline(t *testing.T) {
	f := newFactory()
	p := pool.NewPool(f, testConfig(), nil)
	busy := mustGet(t, p, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := p.CloseContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext = %v, want DeadlineExceeded", err)
	}
	if f.open.Load() != 0 {
		t.Error("forced close left connections open")
	}
	if _, err := busy.Run(context.Background(), "ok"); err == nil {
		t.Error("Run on a force-closed connection succeeded")
	}
	if err := busy.Close(); err != nil {
		t.Errorf("lease Close after forced close = %v", err)
	}
	if s := p.GetSnapshot(); s.LeasesOutstanding != 0 {
		t.Errorf("leases outstanding = %d", s.LeasesOutstanding)
	}
}

func TestCloseStopsDialInFlight(t *testing.T) {
	f := newFactory()
	f.block()
	p := pool.NewPool(f, testConfig(), nil)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(context.Background(), "a")
		errc <- err
	}()
	<-f.entered
	if err := p.Close(); err != nil { // returns only after the dial goroutine ended
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, pool.ErrPoolClosed) {
		t.Errorf("Get = %v", err)
	}
	if pool.DialsInFlight(p) != 0 {
		t.Error("dial still in flight after Close")
	}
}

func TestDialFinishingAfterCloseIsClosed(t *testing.T) {
	gate, entered := make(chan struct{}), make(chan struct{})
	inner := newFactory()
	// A factory that ignores ctx: Close must wait for it and close what it
	// returns.
	f := pool.ConnectionFactoryFunc(func(ctx context.Context, key string) (pool.SSHClient, error) {
		close(entered)
		<-gate
		return inner.Dial(context.Background(), key)
	})
	p := pool.NewPool(f, testConfig(), nil)
	go func() { _, _ = p.Get(context.Background(), "a") }()
	<-entered
	closed := make(chan struct{})
	go func() {
		_ = p.Close()
		close(closed)
	}()
	waitFor(t, func() bool { return errors.Is(p.Warmup(context.Background()), pool.ErrPoolClosed) })
	select {
	case <-closed:
		t.Fatal("Close returned with a dial in flight")
	default:
	}
	close(gate)
	<-closed
	if inner.open.Load() != 0 {
		t.Errorf("%d clients open", inner.open.Load())
	}
}

func TestConcurrentCloseAndGet(t *testing.T) {
	p := pool.NewPool(newFactory(), testConfig(), nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c, err := p.Get(context.Background(), "a")
				if err != nil {
					if !errors.Is(err, pool.ErrPoolClosed) {
						t.Error(err)
					}
					return
				}
				_ = p.Release("a", c)
			}
		}()
	}
	_ = p.Close()
	wg.Wait()
	if err := pool.CheckInvariants(p); err != nil {
		t.Error(err)
	}
}
