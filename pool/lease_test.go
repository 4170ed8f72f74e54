package pool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/pool"
)

func TestMisuseIsSafeAndTraced(t *testing.T) {
	f := newFactory()
	rec := &recTracer{}
	p := newTestPool(t, f, testConfig(), rec.hooks())
	other := newTestPool(t, newFactory(), testConfig(), nil)
	foreign := mustGet(t, other, "a")
	defer mustRelease(t, other, "a", foreign)

	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"double release", p.Release("a", c), pool.ErrLeaseReleased},
		{"handle close after release", c.Close(), pool.ErrLeaseReleased},
		{"nil client", p.Release("a", nil), pool.ErrForeignClient},
		{"raw client", p.Release("a", f.client(0)), pool.ErrForeignClient},
		{"other pool's lease", p.Release("a", foreign), pool.ErrForeignClient},
		{"released Run", second(c.Run(context.Background(), "ok")), pool.ErrLeaseReleased},
		{"released Exec", second(c.Exec(context.Background(), pool.Command{Cmd: "ok"})), pool.ErrLeaseReleased},
		{"released NewSession", second(c.NewSession(context.Background())), pool.ErrLeaseReleased},
		{"released DialContext", second(c.DialContext(context.Background(), "tcp", "x:1")), pool.ErrLeaseReleased},
		{"released SendKeepalive", second(c.SendKeepalive(context.Background())), pool.ErrLeaseReleased},
		{"released Err", c.Err(), pool.ErrLeaseReleased},
		{"released MarkUnhealthy", p.MarkUnhealthy(c, nil), pool.ErrLeaseReleased},
		{"foreign MarkUnhealthy", p.MarkUnhealthy(f.client(0), nil), pool.ErrForeignClient},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
		if tc.err != nil && !strings.HasPrefix(tc.err.Error(), "pool: ") {
			t.Errorf("%s: message %q lacks the pool: prefix", tc.name, tc.err)
		}
	}
	if c.Alive() || c.Client() != nil || c.RemoteAddr() != nil || c.Done() == nil {
		t.Error("released handle still looks usable")
	}
	s := p.GetSnapshot()
	if s.Gets != 1 || s.Releases != 1 || s.LeasesOutstanding != 0 {
		t.Errorf("counts after misuse: gets=%d releases=%d out=%d", s.Gets, s.Releases, s.LeasesOutstanding)
	}
	if s.Misuse < 13 || !rec.has("misuse Release pool: lease already released") {
		t.Errorf("misuse=%d, trace %v", s.Misuse, rec.events)
	}
	if f.client(0).closed.Load() {
		t.Error("handle Close closed the shared connection")
	}
}

func second[T any](_ T, err error) error { return err }

func TestReleaseWithWrongKeyStillReleases(t *testing.T) {
	p := newTestPool(t, newFactory(), testConfig(), nil)
	c := mustGet(t, p, "a")
	if err := p.Release("b", c); !errors.Is(err, pool.ErrKeyMismatch) {
		t.Fatalf("Release(b) = %v, want ErrKeyMismatch", err)
	}
	if s := p.GetSnapshot(); s.LeasesOutstanding != 0 {
		t.Errorf("outstanding = %d, want 0", s.LeasesOutstanding)
	}
}

func TestLeaseDelegates(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	c := mustGet(t, p, "a")
	defer mustRelease(t, p, "a", c)
	if !c.Alive() || c.Err() != nil || c.RemoteAddr().String() != "127.0.0.1:2001" || c.Client() != nil {
		t.Error("handle does not delegate")
	}
	if d, err := c.SendKeepalive(context.Background()); err != nil || d != time.Microsecond {
		t.Errorf("SendKeepalive = %v, %v", d, err)
	}
	if _, err := c.NewSession(context.Background()); err == nil {
		t.Error("NewSession: want the fake's error")
	}
	if _, err := c.DialContext(context.Background(), "tcp", "h:1"); err == nil {
		t.Error("DialContext: want the fake's error")
	}
	if s, ok := c.(interface{ String() string }); !ok || !strings.Contains(s.String(), `key="a"`) {
		t.Error("lease String")
	}
}

func TestRunMarksConnectionLostUnhealthy(t *testing.T) {
	f := newFactory()
	rec := &recTracer{}
	p := newTestPool(t, f, testConfig(), rec.hooks())
	if _, err := p.Run(context.Background(), "a", "lost"); failure.Classify(err) != failure.ConnectionLost {
		t.Fatalf("Run = %v", err)
	}
	if !f.client(0).closed.Load() {
		t.Error("lost connection not closed")
	}
	res, err := p.Run(context.Background(), "a", "ok")
	if err != nil || string(res.Stdout) != "a:ok\n" {
		t.Fatalf("Run after loss = %q, %v", res.Stdout, err)
	}
	if f.dials.Load() != 2 {
		t.Errorf("dials = %d, want 2", f.dials.Load())
	}
	if !rec.has("state a active->unhealthy unhealthy") {
		t.Errorf("trace: %v", rec.events)
	}
}

// TestRunRetriesNotStarted: a command whose connection turns out dead
// before the command started is run again on a new connection, once.
func TestRunRetriesNotStarted(t *testing.T) {
	f := newFactory()
	f.unsentLeft.Store(1)
	p := newTestPool(t, f, testConfig(), nil)
	res, err := p.Run(context.Background(), "a", "unsent")
	if err != nil || string(res.Stdout) != "a:unsent\n" {
		t.Fatalf("Run = %q, %v; want success on a new connection", res.Stdout, err)
	}
	if r0, n := f.client(0).runs.Load(), f.execs(); r0 != 1 || n != 2 {
		t.Errorf("attempts on the dead connection %d, in all %d; want 1, 2", r0, n)
	}
	s := p.GetSnapshot()
	if s.RunRetries != 1 || s.Runs != 1 || s.RunErrors != 0 || s.LeasesOutstanding != 0 {
		t.Errorf("retries=%d runs=%d errors=%d out=%d; want 1, 1, 0, 0", s.RunRetries, s.Runs, s.RunErrors, s.LeasesOutstanding)
	}
}

// TestRunNotStartedRetriesBounded: at most MaxConnectionsPerKey retries,
// and the last error keeps its kind and the ErrNotStarted mark.
func TestRunNotStartedRetriesBounded(t *testing.T) {
	f := newFactory()
	f.unsentLeft.Store(100)
	cfg := testConfig() // MaxConnectionsPerKey 2
	p := newTestPool(t, f, cfg, nil)
	_, err := p.Run(context.Background(), "a", "unsent")
	if !errors.Is(err, pool.ErrNotStarted) || failure.Classify(err) != failure.ConnectionLost {
		t.Fatalf("Run = %v, want connection-lost marked ErrNotStarted", err)
	}
	if n := f.execs(); n != int64(cfg.MaxConnectionsPerKey)+1 {
		t.Errorf("attempts = %d, want %d", n, cfg.MaxConnectionsPerKey+1)
	}
	if s := p.GetSnapshot(); s.RunRetries != int64(cfg.MaxConnectionsPerKey) || s.RunErrors != 1 {
		t.Errorf("retries=%d errors=%d; want %d, 1", s.RunRetries, s.RunErrors, cfg.MaxConnectionsPerKey)
	}
}

// TestRunStartedFailureNotRetried: a connection lost after the command
// was sent may have run it, so it is not run again.
func TestRunStartedFailureNotRetried(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	if _, err := p.Run(context.Background(), "a", "lost"); failure.Classify(err) != failure.ConnectionLost || errors.Is(err, pool.ErrNotStarted) {
		t.Fatalf("Run = %v, want connection-lost without ErrNotStarted", err)
	}
	if n, r := f.execs(), p.GetSnapshot().RunRetries; n != 1 || r != 0 {
		t.Errorf("attempts=%d retries=%d; want 1, 0", n, r)
	}
}

func TestMarkNotStarted(t *testing.T) {
	if pool.MarkNotStarted(nil) != nil {
		t.Error("MarkNotStarted(nil) != nil")
	}
	inner := &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "max sessions"}
	plain := fmt.Errorf("open session: %w", inner)
	err := pool.MarkNotStarted(plain)
	var oce *ssh.OpenChannelError
	switch {
	case err.Error() != plain.Error():
		t.Errorf("message changed: %q", err)
	case !errors.Is(err, pool.ErrNotStarted) || !errors.As(err, &oce) || oce != inner:
		t.Errorf("marked error hides its mark or cause: %v", err)
	case failure.Classify(err) != failure.SessionLimit:
		t.Errorf("Classify = %v, want session-limit", failure.Classify(err))
	case errors.Is(plain, pool.ErrNotStarted):
		t.Error("unmarked error reports ErrNotStarted")
	}
	// LostBeforeStart: marked and connection-lost, nothing else.
	lost := fmt.Errorf("open session: %w", io.EOF)
	for _, tc := range []struct {
		err  error
		want bool
	}{{pool.MarkNotStarted(lost), true}, {lost, false}, {err, false}, {nil, false}} {
		if got := pool.LostBeforeStart(tc.err); got != tc.want {
			t.Errorf("LostBeforeStart(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRunExitErrorKeepsConnection(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	_, err := p.Run(context.Background(), "a", "fail")
	var ee *pool.ExitError
	if !errors.As(err, &ee) || ee.Result.ExitStatus != 1 {
		t.Fatalf("Run = %v, want ExitError", err)
	}
	if f.client(0).closed.Load() {
		t.Error("connection closed after a non-zero exit")
	}
	s := p.GetSnapshot()
	if s.Runs != 1 || s.RunErrors != 1 || s.LeasesOutstanding != 0 {
		t.Errorf("runs=%d errors=%d out=%d", s.Runs, s.RunErrors, s.LeasesOutstanding)
	}
}

func TestRunRetriesSessionLimit(t *testing.T) {
	f := newFactory()
	f.limitLeft.Store(2)
	p := newTestPool(t, f, testConfig(), nil)
	if _, err := p.Run(context.Background(), "a", "limit"); err != nil {
		t.Fatalf("Run = %v, want success after 2 retries", err)
	}
	if f.client(0).closed.Load() {
		t.Error("session limit treated as a health failure")
	}
	f.limitLeft.Store(10)
	_, err := p.Run(context.Background(), "a", "limit")
	if failure.Classify(err) != failure.SessionLimit {
		t.Fatalf("Run = %v, want session-limit after MaxRetries", err)
	}
	if n := f.client(0).runs.Load(); n != 3+4 {
		t.Errorf("runs = %d, want 7 (3, then 1+3 retries)", n)
	}
	if s := p.GetSnapshot(); s.SessionLimitRetries != 2+3 || s.RunRetries != 0 {
		t.Errorf("SessionLimitRetries = %d, RunRetries = %d; want 5 (2, then 3) and 0", s.SessionLimitRetries, s.RunRetries)
	}
}

func TestRunRetryStopsWithContext(t *testing.T) {
	f := newFactory()
	f.limitLeft.Store(100)
	cfg := testConfig()
	cfg.MaxRetries, cfg.Advanced.RetryBackoff = 50, time.Hour
	p := newTestPool(t, f, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Run(ctx, "a", "limit"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want DeadlineExceeded", err)
	}
}

// TestRunWithoutRetries: MaxRetries < 0 disables both of Run's retries,
// of a session-limit refusal and of a connection lost before the command
// started.
func TestRunWithoutRetries(t *testing.T) {
	for _, cmd := range []string{"limit", "unsent"} {
		t.Run(cmd, func(t *testing.T) {
			f := newFactory()
			f.limitLeft.Store(1)
			f.unsentLeft.Store(1)
			cfg := testConfig()
			cfg.MaxRetries = -1
			p := newTestPool(t, f, cfg, nil)
			_, err := p.Run(context.Background(), "a", cmd)
			if cmd == "limit" && failure.Classify(err) != failure.SessionLimit ||
				cmd == "unsent" && !pool.LostBeforeStart(err) {
				t.Fatalf("Run = %v, want the first failure, unretried", err)
			}
			s := p.GetSnapshot()
			if n, r := f.execs(), s.RunRetries+s.SessionLimitRetries; n != 1 || r != 0 {
				t.Errorf("attempts=%d retries=%d; want 1, 0", n, r)
			}
		})
	}
}

func TestMarkUnhealthyDrainsThenCloses(t *testing.T) {
	f := newFactory()
	p := newTestPool(t, f, testConfig(), nil)
	c := mustGet(t, p, "a")
	// The connection was in use, so a replacement is dialled in the
	// background: hold it until the snapshot is taken.
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	if err := p.MarkUnhealthy(c, errors.New("probe")); err != nil {
		t.Fatal(err)
	}
	if s := p.GetSnapshot(); s.Unhealthy != 1 || s.Healthy != 0 {
		t.Errorf("unhealthy=%d healthy=%d", s.Unhealthy, s.Healthy)
	}
	close(gate)
	d := mustGet(t, p, "a")
	if pool.ConnID(d) == pool.ConnID(c) {
		t.Error("unhealthy connection got a lease")
	}
	mustRelease(t, p, "a", c)
	mustRelease(t, p, "a", d)
	if !f.client(0).closed.Load() {
		t.Error("unhealthy connection not closed after its lease")
	}
}

func TestLeaseRunRetriesSessionLimitOnItsConnection(t *testing.T) {
	f := newFactory()
	f.limitLeft.Store(2)
	p := newTestPool(t, f, testConfig(), nil)
	c := mustGet(t, p, "a")
	defer mustRelease(t, p, "a", c)
	if _, err := c.Run(context.Background(), "limit"); err != nil {
		t.Fatalf("lease Run = %v, want success after retries", err)
	}
	if n := f.client(0).runs.Load(); n != 3 {
		t.Errorf("runs = %d, want 3", n)
	}
	if n := p.GetSnapshot().SessionLimitRetries; n != 2 {
		t.Errorf("SessionLimitRetries = %d, want 2", n)
	}
}

func TestLeasesTrackedWithLeakThreshold(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.LeakThreshold = time.Minute
	cfg.Advanced.Clock = clk.Now
	p := newTestPool(t, newFactory(), cfg, nil)
	old := mustGet(t, p, "a")
	clk.Advance(2 * time.Minute)
	young := mustGet(t, p, "b")
	ls := p.Leases(time.Minute)
	if len(ls) != 1 || ls[0].Key != "a" || ls[0].Held != 2*time.Minute {
		t.Fatalf("Leases(1m) = %+v", ls)
	}
	if all := p.Leases(0); len(all) != 2 || all[0].Key != "a" {
		t.Errorf("Leases(0) = %+v", all)
	}
	mustRelease(t, p, "a", old)
	mustRelease(t, p, "b", young)
	if ls := p.Leases(0); len(ls) != 0 {
		t.Errorf("released leases still listed: %+v", ls)
	}
	untracked := newTestPool(t, newFactory(), testConfig(), nil)
	c := mustGet(t, untracked, "a")
	if ls := untracked.Leases(0); ls != nil {
		t.Errorf("untracked pool lists %+v", ls)
	}
	mustRelease(t, untracked, "a", c)
}
