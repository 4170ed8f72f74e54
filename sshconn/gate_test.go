package sshconn

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFences is a fence request that blocks until released, counting the
// requests sent.
type fakeFences struct {
	sent    atomic.Int32
	release chan error
}

func newFakeFences() *fakeFences { return &fakeFences{release: make(chan error)} }

func (f *fakeFences) send() error {
	f.sent.Add(1)
	return <-f.release
}

// gateClient is a Client with only what the gate touches: Done and Err.
func gateClient() *Client { return &Client{done: make(chan struct{})} }

// enterAsync runs enter on a goroutine and returns its result channel.
func enterAsync(g *sessionGate, ctx context.Context, c *Client) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := g.enter(ctx, c)
		ch <- err
	}()
	return ch
}

func admitted(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("enter still waiting")
		return nil
	}
}

func stillWaiting(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("enter returned (%v) while the limit was reached", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestGateHoldsClosedSessionsUntilFenced: at the limit, a closed session
// still counts until a request sent after its close is answered; the
// waiter then gets in. A fence sent before the close confirms nothing.
func TestGateHoldsClosedSessionsUntilFenced(t *testing.T) {
	f := newFakeFences()
	var g sessionGate
	g.init(2, nil, f.send)
	c := gateClient()
	for range 2 {
		if _, err := g.enter(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	w1 := enterAsync(&g, context.Background(), c)
	stillWaiting(t, w1) // and a fence is in flight, sent before any close
	g.exit()            // closed, not confirmed: the server may still count it
	w2 := enterAsync(&g, context.Background(), c)
	f.release <- nil // the first fence: it preceded the close
	stillWaiting(t, w1)
	stillWaiting(t, w2)
	f.release <- nil // the second, sent after the close
	other := admittedOne(t, w1, w2)
	g.exit()
	// The other waiter's fence may have been sent before this close: it
	// gets in once a fence sent after it is answered.
	if err := answerFencesUntil(t, f, other); err != nil {
		t.Fatal(err)
	}
	if n := f.sent.Load(); n < 3 || n > 4 {
		t.Errorf("%d fences sent; want 3 or 4 (one at a time, one per close)", n)
	}
	g.close()
}

// answerFencesUntil answers fences until the waiter ch is admitted.
func answerFencesUntil(t *testing.T, f *fakeFences, ch <-chan error) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f.release <- nil:
		case err := <-ch:
			return err
		case <-deadline:
			t.Fatal("waiter not admitted")
		}
	}
}

// admittedOne waits until one of a and b is admitted and returns the other.
func admittedOne(t *testing.T, a, b <-chan error) <-chan error {
	t.Helper()
	select {
	case err := <-a:
		if err != nil {
			t.Fatal(err)
		}
		stillWaiting(t, b)
		return b
	case err := <-b:
		if err != nil {
			t.Fatal(err)
		}
		stillWaiting(t, a)
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no waiter admitted after the fence")
		return nil
	}
}

// TestGateNaturalFence: the reply to a request Exec sends anyway (an open
// or exec) confirms the closes made before it, with no keepalive.
func TestGateNaturalFence(t *testing.T) {
	f := newFakeFences()
	var g sessionGate
	g.init(1, nil, f.send)
	c := gateClient()
	if _, err := g.enter(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	g.exit()
	ticket := g.ticket() // a request sent after the close
	w := enterAsync(&g, context.Background(), c)
	stillWaiting(t, w)
	g.confirm(ticket) // its reply
	if err := admitted(t, w); err != nil {
		t.Fatal(err)
	}
	if n := g.open.Load(); n != 1 {
		t.Errorf("open = %d, want 1", n)
	}
	f.release <- errors.New("unanswered") // the keepalive the waiter had sent
	g.close()
}

// TestGateWaitEndsWithContextAndConnection: a waiter leaves when its
// context ends or the connection does, and undoes its admission.
func TestGateWaitEndsWithContextAndConnection(t *testing.T) {
	f := newFakeFences()
	var g sessionGate
	g.init(1, nil, f.send)
	c := gateClient()
	if _, err := g.enter(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	g.exit()
	ctx, cancel := context.WithCancel(context.Background())
	w := enterAsync(&g, ctx, c)
	stillWaiting(t, w)
	cancel()
	if err := admitted(t, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("enter = %v, want context.Canceled", err)
	}
	w = enterAsync(&g, context.Background(), c)
	stillWaiting(t, w)
	c.err = ErrConnectionLost
	close(c.done)
	if err := admitted(t, w); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("enter = %v, want the connection's end", err)
	}
	if n := g.open.Load(); n != 0 {
		t.Errorf("open = %d after the waiters left; want 0", n)
	}
	f.release <- errors.New("connection closed") // the fence in flight fails
	g.close()
}

// TestGateLearnsLimitFromRefusal: with no known limit, a refusal at the
// limit sets it to the most sessions the server granted at once.
func TestGateLearnsLimitFromRefusal(t *testing.T) {
	var g sessionGate
	g.init(0, []byte("SSH-2.0-Go"), nil)
	c := gateClient()
	tickets := make([]uint64, 5)
	for i := range tickets {
		tickets[i], _ = g.enter(context.Background(), c)
	}
	for _, tk := range tickets[:3] { // three granted at once
		g.opened(tk)
	}
	g.exit() // one of them closes: the peak stays 3
	g.refused(true)
	if lim, open := g.effectiveLimit(), g.open.Load(); lim != 3 || open != 3 {
		t.Fatalf("limit %d, open %d after a refusal; want 3 (the peak), 3", lim, open)
	}
	g.refused(false) // not at the limit: the limit stays
	if lim := g.effectiveLimit(); lim != 3 {
		t.Errorf("limit %d after a refusal not at the limit; want 3", lim)
	}
	var h sessionGate
	h.init(0, nil, nil)
	tk, _ := h.enter(context.Background(), c)
	tk2, _ := h.enter(context.Background(), c)
	h.refused(true) // refused before the server's grants were recorded
	if lim := h.effectiveLimit(); lim != 1 {
		t.Errorf("limit %d after a refusal with nothing granted yet; want 1", lim)
	}
	h.opened(tk) // grants of the same burst, recorded late, raise it
	h.opened(tk2)
	if lim := h.effectiveLimit(); lim != 2 {
		t.Errorf("limit %d after 2 grants recorded late; want 2", lim)
	}
}

func TestGateInitialLimit(t *testing.T) {
	for _, tc := range []struct {
		n       int
		version string
		want    int64
	}{
		{0, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", DefaultServerMaxSessions},
		{0, "SSH-2.0-Go", 0},
		{30, "SSH-2.0-OpenSSH_9.2p1", 30},
		{-1, "SSH-2.0-OpenSSH_9.2p1", -1},
	} {
		var g sessionGate
		g.init(tc.n, []byte(tc.version), nil)
		if got := g.limit.Load(); got != tc.want {
			t.Errorf("init(%d, %q): limit %d, want %d", tc.n, tc.version, got, tc.want)
		}
	}
}

// TestGateOffNeverWaits: a negative limit admits everything, refusals
// included.
func TestGateOffNeverWaits(t *testing.T) {
	var g sessionGate
	g.init(-1, nil, nil)
	c := gateClient()
	for range 100 {
		if _, err := g.enter(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	g.refused(true)
	if g.effectiveLimit() != -1 {
		t.Error("a refusal turned the gate on")
	}
}

// modelServer counts sessions as sshd does: a closed session counts until
// a request sent after its close has been answered.
type modelServer struct {
	mu        sync.Mutex
	limit     int
	count     int    // sessions counted: open, or closed and not collected
	closes    uint64 // closes received
	collected uint64 // closes collected
	max       int
	refused   int
}

// open admits a session or refuses it at the limit.
func (m *modelServer) open() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.count >= m.limit {
		m.refused++
		return false
	}
	m.count++
	m.max = max(m.max, m.count)
	return true
}

func (m *modelServer) close() {
	m.mu.Lock()
	m.closes++
	m.mu.Unlock()
}

// answer collects the closes received before a request and answers it.
func (m *modelServer) answer(before uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if before > m.collected {
		m.count -= int(before - m.collected)
		m.collected = before
	}
}

func (m *modelServer) received() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closes
}

// TestGateNeverPassesServerLimit drives the gate as Exec does, from 16
// goroutines, against a model of sshd's accounting: the server never
// counts more sessions than its limit, so it refuses none.
func TestGateNeverPassesServerLimit(t *testing.T) {
	m := &modelServer{limit: 4}
	var g sessionGate
	g.init(4, nil, func() error {
		before := m.received()
		runtime.Gosched() // the round trip
		m.answer(before)
		return nil
	})
	c := gateClient()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range 300 {
				ticket, err := g.enter(context.Background(), c)
				if err != nil {
					t.Error(err)
					return
				}
				before := m.received() // the open is sent after these closes
				if !m.open() {
					g.refused(true)
					continue
				}
				m.answer(before) // open confirmation
				g.opened(ticket)
				if i%3 == 0 {
					runtime.Gosched() // the command runs
				}
				m.close() // the client's channel close
				g.exit()
			}
		})
	}
	wg.Wait()
	g.close()
	if m.refused != 0 || m.max > m.limit {
		t.Errorf("server refused %d sessions, counted up to %d; want 0 and at most %d", m.refused, m.max, m.limit)
	}
}
