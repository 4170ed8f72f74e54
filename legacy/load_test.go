package legacy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshtest"
)

// refusalCounter dials through inner and counts the sessions its clients
// had refused for the server's session limit.
type refusalCounter struct {
	inner    pool.ConnectionFactory
	refusals atomic.Int64
}

func (f *refusalCounter) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	c, err := f.inner.Dial(ctx, key)
	if err != nil {
		return nil, err
	}
	return &refusingClient{SSHClient: c, f: f}, nil
}

type refusingClient struct {
	pool.SSHClient
	f *refusalCounter
}

func (c *refusingClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	res, err := c.SSHClient.Exec(ctx, cmd)
	if failure.Classify(err) == failure.SessionLimit {
		c.f.refusals.Add(1)
	}
	return res, err
}

// runLoad runs goroutines×n commands on one server's connection, all at
// once, and returns the errors.
func runLoad(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server, goroutines, n int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range n {
				c, err := p.GetOrCreateConnection(s, false)
				if err == nil {
					want := fmt.Sprintf("%d-%d", g, i)
					var out string
					if out, err = c.ExecuteCommand("echo " + want); err == nil && out != want+"\n" {
						err = fmt.Errorf("output %q", out)
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// sessionLimitLoad runs the load on the legacy pool, the adapter and the
// router, and requires every command to succeed although it asks for more
// sessions at once than the server allows (which the old pool returned as
// failures: 12 % of commands at 8 goroutines against a stock sshd, 93 % at
// 32). refused says whether the server refuses sessions on the way: a
// server whose limit sshconn cannot know refuses until sshconn learns it;
// an OpenSSH server refuses none (sshconn counts its MaxSessions, 10,
// closing sessions included).
func sessionLimitLoad(t *testing.T, e *env, goroutines, n int, refused bool) {
	counter := &refusalCounter{inner: e.factory}
	np := pool.NewPool(counter, pool.PoolConfig{MaxConnectionsPerKey: 1}, nil)
	t.Cleanup(func() { np.Close() })
	client, _ := newFlags(t, flagSet(50, false))
	lp := e.legacyPool(t, legacy.WithFactory(counter))
	for name, p := range map[string]legacy.ConnectionProvider{
		"legacy":  lp,
		"adapter": legacy.NewAdapter(np, e.registrar),
		"router":  legacy.NewRouter(e.legacyPool(t, legacy.WithFactory(counter)), legacy.NewAdapter(np, e.registrar), client),
	} {
		t.Run(name, func(t *testing.T) {
			before := counter.refusals.Load()
			errs := runLoad(t, p, e.server("load-"+name), goroutines, n)
			if len(errs) > 0 {
				t.Fatalf("%d of %d commands failed, first: %v", len(errs), goroutines*n, errs[0])
			}
			t.Logf("%d commands, %d session refusals waited out", goroutines*n, counter.refusals.Load()-before)
		})
	}
	if got := counter.refusals.Load(); refused && got == 0 {
		t.Error("the server refused no session: the load did not reach its limit")
	} else if !refused && got != 0 {
		t.Errorf("the server refused %d sessions; sshconn should keep within its limit", got)
	}
	if lp.Len() != 1 {
		t.Errorf("the legacy pool holds %d connections for one key", lp.Len())
	}
}

// TestSessionLimitWaitsSSHTest: sessions beyond the server's MaxSessions
// (2 here) wait for a slot instead of failing, on every provider.
func TestSessionLimitWaitsSSHTest(t *testing.T) {
	sessionLimitLoad(t, newEnv(t, sshtest.WithMaxSessions(2)), 16, 10, true)
}

// TestSessionLimitWaitsSSHD is the same against a stock sshd (MaxSessions
// 10) at 32 goroutines, which refuses no session at all.
func TestSessionLimitWaitsSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	sessionLimitLoad(t, newSSHDEnv(t), 32, 4, false)
}

// TestDialBackoff is the regression test for "the legacy pool redials on
// every call during an outage" (408 handshakes in 10 s against a changed
// host key): calls every 10 ms for 10 s against a failing key dial at most
// 30 times (50 ms doubling to 1 s, jittered to half), each failure is returned typed (a *BackoffError carrying the last
// dial's error between dials), the key is dialled again within the
// backoff's ceiling once the fault ends, and changed server settings are
// dialled at once.
func TestDialBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFactory{}
		fault := error(errHostKeyChanged)
		f.fail.Store(&fault)
		p := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithHealthInterval(0))
		defer p.Stop()
		var backoffs, dials int
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
			_, err := p.GetOrCreateConnection(fakeServer, false)
			var be *legacy.BackoffError
			if errors.As(err, &be) {
				backoffs++
			}
			if failure.Classify(err) != failure.HostKeyChanged {
				t.Fatalf("call failed with %v (kind %v); want the dial's host-key-changed", err, failure.Classify(err))
			}
		}
		dials = int(f.attempts.Load())
		t.Logf("1000 calls in 10 s: %d dials, %d answered from the backoff", dials, backoffs)
		if dials > 30 || dials < 5 || backoffs < 950 {
			t.Fatalf("%d dials, %d backoff answers in 10 s; want 5..30 dials", dials, backoffs)
		}
		f.fail.Store(nil) // the fault ends
		fixed := time.Now()
		for {
			if _, err := p.GetOrCreateConnection(fakeServer, false); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(fixed); d > legacy.DefaultDialBackoffMax {
			t.Fatalf("recovered %v after the fault ended; want within the backoff ceiling %v", d, legacy.DefaultDialBackoffMax)
		}
		f.fail.Store(&fault)
		other := *fakeServer
		other.ID = "f2"
		p.GetOrCreateConnection(&other, false) // fails, starts other's backoff
		n := f.attempts.Load()
		fresh := other
		fresh.Updated = time.Now() // the record's timestamp: not a new setting
		p.GetOrCreateConnection(&fresh, false)
		if f.attempts.Load() != n {
			t.Fatal("a server whose record timestamp changed skipped the backoff")
		}
		other.ManualKeyPath = "/fixed/key" // new settings: no wait
		p.GetOrCreateConnection(&other, false)
		if f.attempts.Load() != n+1 {
			t.Fatal("a server whose settings changed waited out the backoff")
		}
	})
}
