package sshconn_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// runThroughPool runs n commands from g goroutines through a pool over
// factory with 8 sessions per connection, and returns the pool's snapshot
// (Runs and RunErrors count the commands and failures).
func runThroughPool(factory pool.ConnectionFactory, g, n int) pool.Snapshot {
	p := pool.NewPool(factory, pool.PoolConfig{MaxSessionsPerConnection: 8}, nil)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for range n / g {
				_, _ = p.Run(ctx, "k", "true")
			}
		})
	}
	wg.Wait()
	return p.GetSnapshot()
}

// TestSSHDNoSessionLimitRefusals: a stock sshd (MaxSessions 10) under the
// pool's 8 sessions per connection at 64 goroutines refuses no session:
// Exec keeps the sessions sshd may still count, closed ones it has not
// freed included, within its limit. Without that accounting sshd refused
// about 12 % of them (logged below for comparison).
func TestSSHDNoSessionLimitRefusals(t *testing.T) {
	e := newSSHD(t)
	for _, tc := range []struct {
		name string
		opt  sshconn.FactoryOption
	}{{"gate=on", nil}, {"gate=off", sshconn.WithServerMaxSessions(-1)}} {
		reg := sshconn.NewRegistry()
		reg.Register("k", e.target())
		var opts []sshconn.FactoryOption
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		s := runThroughPool(newFactory(reg, opts...), 64, 640)
		t.Logf("%s: %d commands (%d failed) on %d connections, %d session-limit retries",
			tc.name, s.Runs, s.RunErrors, s.Created, s.SessionLimitRetries)
		if tc.name == "gate=on" && (s.SessionLimitRetries != 0 || s.RunErrors != 0 || s.Runs != 640) {
			t.Errorf("sshd refused %d sessions, %d of %d commands failed; want none", s.SessionLimitRetries, s.RunErrors, s.Runs)
		}
	}
}

// runRefused runs n commands on c from g goroutines, each retrying a
// session-limit refusal after a millisecond, and returns the refusals.
func runRefused(t *testing.T, c *sshconn.Client, g, n int) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg      sync.WaitGroup
		refused atomic.Int64
	)
	for range g {
		wg.Go(func() {
			for i := 0; i < n/g; {
				_, err := c.Run(ctx, "true")
				switch {
				case failure.Classify(err) == failure.SessionLimit:
					refused.Add(1)
					time.Sleep(time.Millisecond)
				case err != nil:
					t.Error(err)
					return
				default:
					i++
				}
			}
		})
	}
	wg.Wait()
	return refused.Load()
}

// TestSSHDLearnsSessionLimit: an sshd configured below the default
// (MaxSessions 3) refuses sessions until the client has learnt its limit
// from the refusals, and none after.
func TestSSHDLearnsSessionLimit(t *testing.T) {
	e := newSSHD(t, sshdtest.WithMaxSessions(3))
	c := mustDial(t, e.target())
	if got := c.SessionLimit(); got != sshconn.DefaultServerMaxSessions {
		t.Fatalf("SessionLimit before any refusal = %d; want OpenSSH's default, %d", got, sshconn.DefaultServerMaxSessions)
	}
	learning := runRefused(t, c, 8, 160)
	lim := c.SessionLimit()
	// The limit learnt is the most sessions sshd granted at once: 3 when
	// the first burst filled it, never more.
	if lim < 2 || lim > 3 {
		t.Fatalf("SessionLimit after %d refusals = %d; want 3 (2 at worst)", learning, lim)
	}
	if after := runRefused(t, c, 8, 160); after != 0 {
		t.Errorf("%d refusals after the limit (%d) was learnt; want 0", after, lim)
	}
	t.Logf("learnt limit %d from %d refusals", lim, learning)
}

// TestSSHDServerMaxSessionsOption: WithServerMaxSessions states the
// server's limit, here below sshd's, and the client keeps to it from the
// start: no refusal at all.
func TestSSHDServerMaxSessionsOption(t *testing.T) {
	e := newSSHD(t, sshdtest.WithMaxSessions(3))
	c := mustDial(t, e.target(), sshconn.WithServerMaxSessions(3))
	if refused := runRefused(t, c, 8, 80); refused != 0 || c.SessionLimit() != 3 {
		t.Errorf("%d refusals, limit %d; want 0 and 3", refused, c.SessionLimit())
	}
}
