package pool_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

func TestGetReleaseReusesConnection(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	for range 5 {
		c := mustGet(t, p, "a")
		res, err := c.Run(context.Background(), "ok")
		if err != nil || string(res.Stdout) != "a:ok\n" {
			t.Fatalf("Run = %q, %v", res.Stdout, err)
		}
		mustRelease(t, p, "a", c)
	}
	if n := f.dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1 (reuse)", n)
	}
	s := p.GetSnapshot()
	if s.Gets != 5 || s.Releases != 5 || s.LeasesOutstanding != 0 || s.Misses != 1 || s.Hits != 4 {
		t.Errorf("snapshot gets=%d releases=%d out=%d misses=%d hits=%d", s.Gets, s.Releases, s.LeasesOutstanding, s.Misses, s.Hits)
	}
}

func TestMultiplexesUpToSessionLimitThenDials(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil) // 2 sessions × 2 conns per key
	var held []pool.SSHClient
	for range 4 {
		held = append(held, mustGet(t, p, "a"))
	}
	if n := f.dials.Load(); n != 2 {
		t.Errorf("dials = %d, want 2 (2 leases per connection)", n)
	}
	ids := map[uint64]int{}
	for _, c := range held {
		ids[pool.ConnID(c)]++
	}
	for id, n := range ids {
		if n != 2 {
			t.Errorf("conn %d has %d leases, want 2", id, n)
		}
	}
	for _, c := range held {
		mustRelease(t, p, "a", c)
	}
}

func TestWaitsWhenKeyFullAndServesFIFO(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, oneSlotConfig(), nil)
	first := mustGet(t, p, "a")
	order := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mustGet(t, p, "a")
			order <- i
			mustRelease(t, p, "a", c)
		}()
		waitFor(t, func() bool { return pool.WaitersFor(p, "a") == i+1 })
	}
	mustRelease(t, p, "a", first)
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Errorf("served waiter %d, want %d (FIFO)", got, want)
		}
		want++
	}
	if n := f.dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1", n)
	}
	if s := p.GetSnapshot(); s.WaitCount != 4 { // the first Get waited for the dial
		t.Errorf("WaitCount = %d, want 4", s.WaitCount)
	}
}

func TestWaitEndsWithContextError(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, oneSlotConfig(), nil)
	c := mustGet(t, p, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Get(ctx, "a")
	var we *pool.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pool.ErrPoolExhausted) {
		t.Fatalf("Get = %v, want *WaitError wrapping DeadlineExceeded and ErrPoolExhausted", err)
	}
	if we.Key != "a" || !we.Exhausted || failure.Classify(err) != failure.Timeout {
		t.Errorf("WaitError = %+v, kind %v", we, failure.Classify(err))
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := p.Get(ctx2, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(canceled) = %v, want context.Canceled", err)
	}
	mustRelease(t, p, "a", c)
	if pool.WaitersFor(p, "a") != 0 {
		t.Error("abandoned waiter still queued")
	}
}

func TestWaitTimeout(t *testing.T) {
	f := newFactory()
	cfg := oneSlotConfig()
	cfg.WaitTimeout = 10 * time.Millisecond
	p := newTestPool(t, f, cfg, nil)
	c := mustGet(t, p, "a")
	defer mustRelease(t, p, "a", c)
	_, err := p.Get(context.Background(), "a")
	if !errors.Is(err, pool.ErrPoolExhausted) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want exhausted + deadline", err)
	}
}

func TestWaiterForDialIsNotExhausted(t *testing.T) {
	f := newFactory()
	gate := f.block()
	p := newTestPool(t, f, testConfig(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx, "a")
		errc <- err
	}()
	<-f.entered
	cancel()
	err := <-errc
	var we *pool.WaitError
	if !errors.As(err, &we) || we.Exhausted || !errors.Is(err, context.Canceled) || errors.Is(err, pool.ErrPoolExhausted) {
		t.Fatalf("Get = %v, want non-exhausted WaitError wrapping Canceled", err)
	}
	// The dial goes on for the next caller and is kept idle.
	close(gate)
	waitFor(t, func() bool { return p.GetSnapshot().Idle == 1 })
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	if n := f.dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1", n)
	}
}

func TestOneDialInFlightPerKey(t *testing.T) {
	f := newFactory()
	gate := f.block()
	cfg := testConfig()
	cfg.MaxSessionsPerConnection = 8
	p := newTestPool(t, f, cfg, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mustGet(t, p, "a")
			mustRelease(t, p, "a", c)
		}()
	}
	<-f.entered
	waitFor(t, func() bool { return pool.WaitersFor(p, "a") == 8 })
	if n := pool.DialsInFlight(p); n != 1 {
		t.Errorf("dials in flight = %d, want 1", n)
	}
	close(gate)
	wg.Wait()
	if n := f.dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1 (8 waiters fit one connection)", n)
	}
}

func TestDialErrorGoesToAllWaitersUnretried(t *testing.T) {
	f := newFactory()
	authErr := &kindErr{failure.Auth}
	f.setErr(authErr)
	p := newTestPool(t, f, testConfig(), nil)
	_, err := p.Get(context.Background(), "a")
	var de *pool.DialError
	if !errors.As(err, &de) || !errors.Is(err, authErr) || de.Key != "a" || failure.Classify(err) != failure.Auth {
		t.Fatalf("Get = %v, want *DialError wrapping the auth error", err)
	}
	if n := f.dials.Load(); n != 1 {
		t.Errorf("dials = %d, want 1 (permanent errors are not retried)", n)
	}
	if s := p.GetSnapshot(); s.DialFailures != 1 || s.Dials != 1 {
		t.Errorf("dial failures = %d / %d", s.DialFailures, s.Dials)
	}
}

type kindErr struct{ k failure.Kind }

func (e *kindErr) Error() string           { return "fake " + e.k.String() }
func (e *kindErr) ErrorKind() failure.Kind { return e.k }

func TestNilClientFromFactory(t *testing.T) {
	f := pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) { return nil, nil })
	p := newTestPool(t, f, testConfig(), nil)
	if _, err := p.Get(context.Background(), "a"); !errors.Is(err, pool.ErrNilConnection) || failure.Classify(err) != failure.Config {
		t.Fatalf("Get = %v (%v), want ErrNilConnection (config)", err, failure.Classify(err))
	}
}

// waitFor polls cond until it holds (bounded by the test's deadline).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLockFreeGetDoesNotOvertakeWaiters frees a slot while a waiter is
// queued and the pool's lock is held, so the Release cannot hand the slot
// over yet: a Get arriving then must not take the slot on the lock-free
// path (the ctlQueued bit refuses it), but queue behind the waiter.
func TestLockFreeGetDoesNotOvertakeWaiters(t *testing.T) {
	p := newTestPool(t, newFactory(), oneSlotConfig(), nil)
	held := mustGet(t, p, "a")
	served := make(chan pool.SSHClient, 1)
	go func() { served <- mustGet(t, p, "a") }()
	waitFor(t, func() bool { return pool.WaitersFor(p, "a") == 1 })

	unlock := pool.LockPool(p)
	released := make(chan error, 1)
	go func() { released <- p.Release("a", held) }()
	waitFor(t, func() bool { return pool.Leases(held) == 0 }) // slot free, hand-over blocked on the lock
	late := make(chan pool.SSHClient, 1)
	go func() { late <- mustGet(t, p, "a") }()
	select {
	case c := <-late:
		unlock()
		t.Fatalf("a Get overtook the queued waiter: got connection %d while it waited", pool.ConnID(c))
	case <-time.After(50 * time.Millisecond): // it can only finish after unlock
	}
	unlock()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	first := <-served
	select {
	case c := <-late:
		t.Fatalf("late Get served (conn %d) while the first waiter holds the only slot", pool.ConnID(c))
	case <-time.After(10 * time.Millisecond):
	}
	mustRelease(t, p, "a", first)
	mustRelease(t, p, "a", <-late)
	if err := pool.CheckInvariants(p); err != nil {
		t.Error(err)
	}
}
