package legacy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

var fakeServer = &legacy.Server{ID: "f1", Name: "fake", Host: "fake.example", RootUsername: "root", AppUsername: "app"}

func TestKey(t *testing.T) {
	s := &legacy.Server{ID: "web-1", Host: "10.0.0.5", Port: 2222}
	if got := legacy.Key(s, true); got != "10.0.0.5:2222:web-1:root" {
		t.Errorf("Key root = %q", got)
	}
	s.Port = 0
	if got := legacy.Key(s, false); got != "10.0.0.5:22:web-1:app" {
		t.Errorf("Key app = %q", got)
	}
}

func TestServerValidate(t *testing.T) {
	for name, s := range map[string]*legacy.Server{
		"nil": nil, "no-id": {Host: "h", AppUsername: "a"}, "no-host": {ID: "i", AppUsername: "a"},
		"bad-port": {ID: "i", Host: "h", Port: 70000, AppUsername: "a"}, "no-user": {ID: "i", Host: "h", RootUsername: "r"},
	} {
		if err := s.Validate(false); !errors.Is(err, legacy.ErrInvalidServer) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

func TestPoolReusesConnectionPerKey(t *testing.T) {
	f := &fakeFactory{}
	p := legacy.NewConnectionPool(legacy.WithFactory(f))
	defer p.Stop()
	c1, err := p.GetOrCreateConnection(fakeServer, false)
	must(t, err)
	c2, _ := p.GetOrCreateConnection(fakeServer, false)
	c3, _ := p.GetOrCreateConnection(fakeServer, true)
	if c1 != c2 || c1 == c3 || f.dials() != 2 {
		t.Fatalf("same key must share, roles must not: c1==c2 %v, c1==c3 %v, dials %d", c1 == c2, c1 == c3, f.dials())
	}
	if c1.Key() != legacy.Key(fakeServer, false) || !c3.AsRoot() || c1.Server().ID != "f1" {
		t.Errorf("metadata: key %q root %v", c1.Key(), c3.AsRoot())
	}
}

func TestPoolConcurrentGetDialsOnce(t *testing.T) {
	f := &fakeFactory{}
	p := legacy.NewConnectionPool(legacy.WithFactory(f))
	defer p.Stop()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := p.GetOrCreateConnection(fakeServer, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.dials() != 1 {
		t.Fatalf("dials = %d; want 1", f.dials())
	}
}

// TestPoolHealthTickerMarksDead: a connection whose commands fail is marked
// unhealthy by the next tick, and its SSH connection is replaced in place
// on the next use, however late that comes: the same *PooledConnection
// over a new SSH connection, the old one closed. In "not-revived" its
// server answers again before that use: the bad SSH connection stays bad
// and the ticker stops probing it. That subtest is the regression test for
// "unhealthy connection handed out again" (TestPoolHealthTickerStalledServer
// under load), where a probe run after the server recovered marked the
// connection healthy again.
func TestPoolHealthTickerMarksDead(t *testing.T) {
	for name, recovers := range map[string]bool{"replaced": false, "not-revived": true} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { healthTickerMarksDead(t, recovers) })
		})
	}
}

func healthTickerMarksDead(t *testing.T, recovers bool) {
	f := &fakeFactory{}
	p := legacy.NewConnectionPool(legacy.WithFactory(f))
	defer p.Stop()
	c, err := p.GetOrCreateConnection(fakeServer, false)
	must(t, err)
	time.Sleep(legacy.DefaultHealthInterval + time.Second)
	synctest.Wait()
	if st := p.GetConnectionStatus()[c.Key()]; !st.Healthy || st.LastHealthCheck.IsZero() {
		t.Fatalf("after a good tick: %+v", st)
	}
	f.client(0).broken.Store(true)
	time.Sleep(legacy.DefaultHealthInterval)
	synctest.Wait()
	st := p.GetConnectionStatus()[c.Key()]
	if st.Healthy || !strings.HasPrefix(st.LastError, "health check failed: ") {
		t.Fatalf("after a failed tick: %+v", st)
	}
	if recovers {
		runs := f.client(0).runs.Load()
		f.client(0).broken.Store(false)
		time.Sleep(3 * legacy.DefaultHealthInterval)
		synctest.Wait()
		if n := f.client(0).runs.Load() - runs; p.GetConnectionStatus()[c.Key()].Healthy || n != 0 {
			t.Fatalf("after the server recovered: revived, probed %d more times", n)
		}
	}
	c2, err := p.GetOrCreateConnection(fakeServer, false)
	if err != nil || c2 != c || f.dials() != 2 || !f.client(0).closed.Load() {
		t.Fatalf("replacement: err %v, same %v, dials %d, old closed %v", err, c2 == c, f.dials(), f.client(0).closed.Load())
	}
	if out, err := c.ExecuteCommand("echo again"); err != nil || out != "again\n" || f.client(1).runs.Load() != 1 {
		t.Fatalf("on the new SSH connection: %q, %v", out, err)
	}
}

// TestPoolStaleSweep: the sweep closes connections unused for the stale age
// and keeps used ones.
func TestPoolStaleSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFactory{}
		p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithHealthInterval(0))
		defer p.Stop()
		idle, _ := p.GetOrCreateConnection(fakeServer, false)
		busy, _ := p.GetOrCreateConnection(fakeServer, true)
		for range 3 { // keep busy used every 10 minutes
			time.Sleep(10 * time.Minute)
			if _, err := busy.ExecuteCommand("true"); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if !idle.Closed() || busy.Closed() || p.Len() != 1 {
			t.Fatalf("idle closed %v, busy closed %v, len %d", idle.Closed(), busy.Closed(), p.Len())
		}
	})
}

func TestPoolCleanupStaleConnections(t *testing.T) {
	now := time.Unix(1000, 0)
	f := &fakeFactory{}
	p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithClock(func() time.Time { return now }))
	defer p.Stop()
	c, _ := p.GetOrCreateConnection(fakeServer, false)
	if n := p.CleanupStaleConnections(time.Minute); n != 0 {
		t.Fatalf("fresh: removed %d", n)
	}
	now = now.Add(2 * time.Minute)
	if n := p.CleanupStaleConnections(time.Minute); n != 1 || !c.Closed() || p.Len() != 0 {
		t.Fatalf("stale: removed %d, closed %v", n, c.Closed())
	}
}

// TestPoolRemoveWaitsForRunningCommand: RemoveConnection retires a busy
// connection; it closes when the command ends. RemoveIdleConnection leaves
// a busy one alone.
func TestPoolRemoveWaitsForRunningCommand(t *testing.T) {
	e, release := newBlockingEnv(t)
	p := e.legacyPool(t)
	s := e.server("rm")
	c, err := p.GetOrCreateConnection(s, false)
	must(t, err)
	done := make(chan error)
	go func() { _, err := c.ExecuteCommand(blockCommand); done <- err }()
	waitFor(t, func() bool { return p.GetConnectionStatus()[c.Key()].InUse == 1 })
	if p.RemoveIdleConnection(s, false) {
		t.Fatal("RemoveIdleConnection removed a busy connection")
	}
	p.RemoveConnection(c.Key())
	if c.Closed() || p.Len() != 0 {
		t.Fatalf("after RemoveConnection: closed %v len %d", c.Closed(), p.Len())
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("running command: %v", err)
	}
	if !c.Closed() {
		t.Fatal("retired connection not closed after its command")
	}
}

func TestPoolStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFactory{}
		p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithHealthInterval(time.Second), legacy.WithStaleSweep(time.Second, time.Hour))
		c, err := p.GetOrCreateConnection(fakeServer, false)
		must(t, err)
		time.Sleep(5 * time.Second)
		p.Stop()
		p.Stop() // idempotent
		if !c.Closed() {
			t.Error("Stop left a connection open")
		}
		_, err = p.GetOrCreateConnection(fakeServer, false)
		if !errors.Is(err, legacy.ErrPoolStopped) || failure.Classify(err) != failure.PoolClosed {
			t.Errorf("after Stop: %v", err)
		}
		p.Start() // does nothing after Stop
		if _, err := p.GetOrCreateConnection(fakeServer, false); !errors.Is(err, legacy.ErrPoolStopped) {
			t.Errorf("after Start after Stop: %v", err)
		}
		if _, err := c.ExecuteCommand("true"); !errors.Is(err, legacy.ErrPoolStopped) && !errors.Is(err, legacy.ErrConnectionClosed) {
			t.Errorf("held connection after Stop: %v", err)
		}
		// synctest.Test fails if Stop left a goroutine of the bubble running.
	})
}

func TestPoolDialErrorIsClassified(t *testing.T) {
	e := newEnv(t)
	p := e.legacyPool(t)
	_, err := p.GetOrCreateConnection(e.untrusted("u"), true)
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.ErrorKind() != failure.HostKeyUnknown || p.Len() != 0 {
		t.Fatalf("err = %v", err)
	}
}

// waitLimit bounds waitFor. It only guards against a hang: conditions are
// normally met in milliseconds, but a loaded machine can be very slow.
const waitLimit = 30 * time.Second

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v", waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

// gatedFactory is a fakeFactory whose dials each wait for a release (or
// their context's end), announcing themselves on dialing first.
type gatedFactory struct {
	fakeFactory
	dialing chan struct{}
	release chan struct{}
}

func newGatedFactory() *gatedFactory {
	return &gatedFactory{dialing: make(chan struct{}), release: make(chan struct{})}
}

func (f *gatedFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	select {
	case f.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.fakeFactory.Dial(ctx, key)
}

// TestPoolGetSurvivesRemovalWhileDialing: RemoveConnection during the dial
// does not fail GetOrCreateConnection, however often it comes (the old
// pool stored a connection only once dialled, so a removal meanwhile
// removed nothing); the caller
// gets a working connection from the first dial nobody removed, and each
// removed dial's client is closed. A removal that never stops fails the
// call once the dial timeout has passed, as a timeout.
func TestPoolGetSurvivesRemovalWhileDialing(t *testing.T) {
	key := legacy.Key(fakeServer, false)
	t.Run("removed-five-times", func(t *testing.T) {
		f := newGatedFactory()
		p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithDialTimeout(time.Minute))
		defer p.Stop()
		type result struct {
			c   *legacy.PooledConnection
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := p.GetOrCreateConnection(fakeServer, false)
			done <- result{c, err}
		}()
		// nextDial waits for the next dial, failing if the call returned
		// instead.
		nextDial := func(i int) {
			select {
			case <-f.dialing:
			case r := <-done:
				t.Fatalf("GetOrCreateConnection returned before dial %d: %v", i, r.err)
			}
		}
		const removals = 5
		for i := range removals {
			nextDial(i)
			p.RemoveConnection(key)
			f.release <- struct{}{}
		}
		nextDial(removals)
		f.release <- struct{}{}
		r := <-done
		if r.err != nil {
			t.Fatalf("GetOrCreateConnection after %d removals while dialing: %v", removals, r.err)
		}
		if out, err := r.c.ExecuteCommand("echo ok"); err != nil || out != "ok\n" {
			t.Fatalf("ExecuteCommand = %q, %v", out, err)
		}
		if n := f.dials(); n != removals+1 {
			t.Fatalf("clients dialled = %d; want %d", n, removals+1)
		}
		for i := range removals {
			if !f.client(i).closed.Load() {
				t.Errorf("client of removed dial %d not closed", i)
			}
		}
		if f.client(removals).closed.Load() || p.Len() != 1 {
			t.Errorf("kept client closed %v, pool length %d; want open, 1", f.client(removals).closed.Load(), p.Len())
		}
	})
	t.Run("removed-until-timeout", func(t *testing.T) {
		f := newGatedFactory()
		p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithDialTimeout(300*time.Millisecond))
		defer p.Stop()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-f.dialing:
					p.RemoveConnection(key)
					select {
					case f.release <- struct{}{}:
					case <-stop:
						return
					}
				case <-stop:
					return
				}
			}
		})
		_, err := p.GetOrCreateConnection(fakeServer, false)
		close(stop)
		wg.Wait()
		if k := failure.Classify(err); k != failure.Timeout {
			t.Fatalf("err = %v (kind %v); want a timeout", err, k)
		}
		if f.dials() < 2 {
			t.Errorf("dialled %d times; want it to have tried again after a removal", f.dials())
		}
	})
}
