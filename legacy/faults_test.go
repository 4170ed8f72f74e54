package legacy_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// TestPoolHealthTickerStalledServer: a server that stops answering fails
// the health check by its timeout; the ticker marks the connection
// unhealthy, and once the server answers again GetOrCreateConnection
// replaces it. The health timeout is what detects the stall, so it is long
// enough that a loaded machine never fails a check of the healthy server.
func TestPoolHealthTickerStalledServer(t *testing.T) {
	e := newEnv(t)
	p := e.legacyPool(t, legacy.WithHealthInterval(20*time.Millisecond),
		legacy.WithHealthCheck("true", 2*time.Second))
	s := e.server("stall")
	c, err := p.GetPooledConnection(s, false)
	must(t, err)
	waitFor(t, func() bool { return !p.GetConnectionStatus()[c.Key()].LastHealthCheck.IsZero() })
	if !c.IsHealthy() {
		t.Fatal("healthy connection marked unhealthy")
	}
	e.srv.Stall()
	waitFor(t, func() bool { return !c.IsHealthy() })
	st := p.GetConnectionStatus()[c.Key()]
	if st.Healthy || st.LastError == "" {
		t.Fatalf("status after stall: %+v", st)
	}
	e.srv.Unstall()
	c2, err := p.GetPooledConnection(s, false)
	must(t, err)
	if c2 == c {
		t.Fatal("unhealthy connection handed out again")
	}
	if out, err := c2.ExecuteCommand("echo back"); err != nil || out != "back\n" {
		t.Fatalf("replacement: %q, %v", out, err)
	}
}

// TestPoolReplacesDroppedConnection: a dropped connection fails its
// command as connection-lost and is replaced at once, without waiting for
// the ticker.
func TestPoolReplacesDroppedConnection(t *testing.T) {
	e := newEnv(t)
	p := e.legacyPool(t, legacy.WithHealthInterval(0))
	s := e.server("drop")
	c, err := p.GetPooledConnection(s, false)
	must(t, err)
	e.srv.DropAll()
	waitFor(t, func() bool { return !c.IsHealthy() })
	if _, err := c.ExecuteCommand("true"); err == nil {
		t.Fatal("command on a dropped connection succeeded")
	} else if k := pool.Classify(err); k != pool.KindConnectionLost && k != pool.KindPoolClosed {
		t.Errorf("dropped: %v (kind %v)", err, k)
	}
	out, err := connect(t, p, s, false).ExecuteCommand("echo new")
	if err != nil || out != "new\n" {
		t.Fatalf("after drop: %q, %v", out, err)
	}
}

// TestRouterInFlightFinishesOnItsPool: a command that started on legacy
// finishes there although the flags moved the key to the new pool (and the
// drain spared its busy connection); the next command runs on the new pool.
func TestRouterInFlightFinishesOnItsPool(t *testing.T) {
	e, release := newBlockingEnv(t)
	lp := e.legacyPool(t)
	ad, np := e.adapter(t)
	client, flags := newFlags(t, flagSet(0, false))
	r := legacy.NewRouter(lp, ad, client)
	s := e.server("inflight")
	conn := connect(t, r, s, false)
	done := make(chan error, 1)
	go func() { _, err := conn.ExecuteCommand(blockCommand); done <- err }()
	waitFor(t, func() bool { return lp.GetConnectionStatus()[legacy.Key(s, false)].InUse == 1 })
	flags.UpdateFlags(flagSet(100, false))
	if out, err := conn.ExecuteCommand("echo new"); err != nil || out != "new\n" {
		t.Fatalf("after flip: %q, %v", out, err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("in-flight legacy command: %v", err)
	}
	if np.GetSnapshot().Total != 1 || r.Stats().New != 1 {
		t.Fatalf("new pool unused: stats %+v", r.Stats())
	}
	// The busy legacy connection survived the drain; the next route change
	// back would find it, and the sweep removes it when stale.
	if lp.Len() != 1 {
		t.Fatalf("legacy len %d", lp.Len())
	}
}

// TestStreamWithoutReaderEnds: a stream whose reader stops ends when its
// context does, on every provider, leaving no goroutine behind.
func TestStreamWithoutReaderEnds(t *testing.T) {
	e := newEnv(t)
	for name, p := range providers(t, e) {
		t.Run(name, func(t *testing.T) {
			c, ok := connect(t, p, e.server("stream"), false).(legacy.ContextConnection)
			if !ok {
				t.Fatal("connection has no context variants")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err := c.ExecuteCommandStreamContext(ctx, "yes", make(chan string))
			if k := pool.Classify(err); k != pool.KindTimeout {
				t.Fatalf("err = %v (kind %v); want timeout", err, k)
			}
		})
	}
}

// TestPoolStress mixes random operations on a few keys from many
// goroutines (bounded in count) under -race: no panic, no deadlock, counts
// stay consistent, and every command that got a connection either runs or
// fails with ErrConnectionClosed before running.
func TestPoolStress(t *testing.T) {
	e := newEnv(t)
	p := e.legacyPool(t, legacy.WithHealthInterval(5*time.Millisecond), legacy.WithHealthCheck("true", time.Second),
		legacy.WithStaleSweep(7*time.Millisecond, 3*time.Millisecond))
	servers := []*legacy.Server{e.server("x1"), e.server("x2"), e.server("x3")}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 150 {
				stressOp(t, p, servers[rng.IntN(len(servers))], rng)
			}
		})
	}
	wg.Wait()
	// Health probes count as in use while they run: wait for the last.
	waitFor(t, func() bool {
		for _, st := range p.GetConnectionStatus() {
			if st.InUse != 0 {
				return false
			}
		}
		return true
	})
}

func stressOp(t *testing.T, p *legacy.ConnectionPool, s *legacy.Server, rng *rand.Rand) {
	asRoot := rng.IntN(2) == 0
	switch rng.IntN(10) {
	case 0:
		p.RemoveConnection(s, asRoot)
	case 1:
		p.RemoveIdleConnection(s, asRoot)
	case 2:
		p.CleanupStaleConnections(time.Duration(rng.IntN(5)) * time.Millisecond)
	case 3:
		p.GetConnectionStatus()
	case 4:
		if c, err := p.GetPooledConnection(s, asRoot); err == nil && rng.IntN(4) == 0 {
			c.Close()
		}
	default:
		c, err := p.GetPooledConnection(s, asRoot)
		if err != nil {
			t.Errorf("GetPooledConnection: %v", err)
			return
		}
		if _, err := c.ExecuteCommand("echo x"); err != nil && pool.Classify(err) != pool.KindPoolClosed &&
			pool.Classify(err) != pool.KindConnectionLost {
			t.Errorf("ExecuteCommand: %v (kind %v)", err, pool.Classify(err))
		}
	}
}
