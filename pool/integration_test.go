package pool_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// backend is a real SSH server reachable through keys of a factory.
type backend struct {
	name    string
	factory *countingFactory
	srv     *sshtest.Server // nil for sshd
}

// newSSHTestBackend starts an sshtest server and registers keys (each a
// name for the same server) in an sshconn registry.
func newSSHTestBackend(t testing.TB, keys []string, opts ...sshtest.Option) *backend {
	t.Helper()
	srv := sshtest.NewServer(t, opts...)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := sshconn.NewRegistry()
	for _, k := range keys {
		reg.Register(k, sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "alice",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}})
	}
	return &backend{name: "sshtest", srv: srv, factory: &countingFactory{inner: sshconn.NewFactory(reg)}}
}

// newSSHDBackend starts a private OpenSSH sshd (skipped where sshd is not
// installed, except on CI).
func newSSHDBackend(t testing.TB, keys []string) *backend {
	t.Helper()
	srv := sshdtest.Start(t)
	reg := sshconn.NewRegistry()
	for _, k := range keys {
		reg.Register(k, sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: srv.User(),
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{srv.KnownHostsPath()}})
	}
	return &backend{name: "sshd", factory: &countingFactory{inner: sshconn.NewFactory(reg)}}
}

// countingFactory counts clients open (dialled, not yet closed) and the
// most ever open, independently of the pool's bookkeeping.
type countingFactory struct {
	inner   pool.ConnectionFactory
	open    atomic.Int64
	maxOpen atomic.Int64
}

func (f *countingFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	c, err := f.inner.Dial(ctx, key)
	if err != nil {
		return nil, err
	}
	n := f.open.Add(1)
	for m := f.maxOpen.Load(); n > m && !f.maxOpen.CompareAndSwap(m, n); m = f.maxOpen.Load() {
	}
	return &countedClient{SSHClient: c, f: f}, nil
}

type countedClient struct {
	pool.SSHClient
	f    *countingFactory
	once sync.Once
}

func (c *countedClient) Close() error {
	err := c.SSHClient.Close()
	c.once.Do(func() { c.f.open.Add(-1) })
	return err
}

// TestSpecHundredGoroutines is the specification's example: 100
// goroutines Get, run a command and Release on one key. No errors, the
// connections never exceed the limits, every lease comes back.
func TestSpecHundredGoroutines(t *testing.T) {
	for _, mk := range []func(testing.TB, []string) *backend{
		func(t testing.TB, k []string) *backend { return newSSHTestBackend(t, k) },
		newSSHDBackend,
	} {
		be := mk(t, []string{"web1"})
		t.Run(be.name, func(t *testing.T) {
			cfg := pool.PoolConfig{MaxConnections: 10, MaxConnectionsPerKey: 3, MaxSessionsPerConnection: 8}
			p := pool.NewPool(be.factory, cfg, nil)
			defer p.Close()
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := p.Get(context.Background(), "web1")
					if err != nil {
						t.Error(err)
						return
					}
					defer func() {
						if err := p.Release("web1", c); err != nil {
							t.Error(err)
						}
					}()
					res, err := c.Run(context.Background(), fmt.Sprintf("echo %d", i))
					if err != nil || string(res.Stdout) != fmt.Sprintf("%d\n", i) {
						t.Errorf("Run = %q, %v", res.Stdout, err)
					}
				}()
			}
			wg.Wait()
			s := p.GetSnapshot()
			if s.Gets != 100 || s.Releases != 100 || s.LeasesOutstanding != 0 {
				t.Errorf("gets=%d releases=%d outstanding=%d", s.Gets, s.Releases, s.LeasesOutstanding)
			}
			if m := be.factory.maxOpen.Load(); m > int64(cfg.MaxConnectionsPerKey) {
				t.Errorf("%d connections open at once > %d", m, cfg.MaxConnectionsPerKey)
			}
			if err := pool.CheckInvariants(p); err != nil {
				t.Error(err)
			}
			if err := p.Close(); err != nil || be.factory.open.Load() != 0 {
				t.Errorf("Close = %v, %d connections left", err, be.factory.open.Load())
			}
			t.Logf("%s: %d dials, %d waits, %d hits, %d misses", be.name, s.Dials, s.WaitCount, s.Hits, s.Misses)
		})
	}
}

func TestSessionLimitRefusalIsRetriedNotUnhealthy(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"}, sshtest.WithMaxSessions(1))
	cfg := pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 4, MaxRetries: 100,
		Advanced: pool.AdvancedPoolConfig{RetryBackoff: 5 * time.Millisecond}}
	p := pool.NewPool(be.factory, cfg, nil)
	defer p.Close()
	events, cancel := p.SubscribeHealth(16)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Run(context.Background(), "a", "sleep 0.02"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s := p.GetSnapshot()
	if s.ClosedByReason[pool.ReasonUnhealthy] != 0 || s.Dials != 1 {
		t.Errorf("unhealthy=%d dials=%d, want 0, 1", s.ClosedByReason[pool.ReasonUnhealthy], s.Dials)
	}
	if evs := drainEvents(events); len(evs) != 0 || s.CircuitOpens != 0 {
		t.Errorf("health events %s, circuit opens %d: a session limit is not a health failure", eventTypes(evs), s.CircuitOpens)
	}
	if be.srv.Stats().ChannelsRejected == 0 {
		t.Error("server never refused a session: the test did not test the limit")
	}
}

func TestDroppedConnectionIsReplaced(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"})
	p := pool.NewPool(be.factory, pool.PoolConfig{}, nil)
	defer p.Close()
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	be.srv.DropAll()
	<-c.Done() // the client notices the drop
	res, err := p.Run(context.Background(), "a", "echo back")
	if err != nil || string(res.Stdout) != "back\n" {
		t.Fatalf("Run after drop = %q, %v", res.Stdout, err)
	}
	// The watcher that noticed the drop removes (and counts) the dead
	// connection; Run may have dialled the replacement before it did.
	waitFor(t, func() bool { return p.GetSnapshot().ClosedByReason[pool.ReasonUnhealthy] != 0 })
	if s := p.GetSnapshot(); s.Dials != 2 || s.ClosedByReason[pool.ReasonUnhealthy] != 1 || s.Closed != 1 {
		t.Errorf("dials=%d unhealthy=%d closed=%d; want 2, 1, 1", s.Dials, s.ClosedByReason[pool.ReasonUnhealthy], s.Closed)
	}
}

func TestAuthFailureIsPermanent(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"})
	be.srv.FailAuth(true)
	p := pool.NewPool(be.factory, pool.PoolConfig{}, nil)
	defer p.Close()
	_, err := p.Get(context.Background(), "a")
	if k := failure.Classify(err); k != failure.Auth {
		t.Fatalf("Get = %v (kind %v), want auth", err, k)
	}
	if s := p.GetSnapshot(); s.Dials != 1 {
		t.Errorf("pool dialled %d times after a permanent failure", s.Dials)
	}
}

func TestHealthCheckAgainstSSHTest(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a", "b"})
	cfg := pool.PoolConfig{WarmupKeys: []string{"a", "b"}, WarmupConnections: 2}
	p := pool.NewPool(be.factory, cfg, nil)
	defer p.Close()
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := p.HealthCheck(context.Background())
	if rep.Unhealthy != 0 || rep.Checked != 4 || be.srv.Stats().Keepalives < 4 {
		t.Errorf("report %+v, server keepalives %d", rep, be.srv.Stats().Keepalives)
	}
}

// TestThousandConnectionsAndHundredPools opens 1,000 connections in one
// pool, runs a command on each at once, and runs 100 pools side by side.
func TestThousandConnectionsAndHundredPools(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 SSH connections")
	}
	conns, pools := 1000, 100
	if raceEnabled { // the race detector makes each handshake ~10× slower
		conns, pools = 200, 20
	}
	keys := make([]string, conns)
	for i := range keys {
		keys[i] = fmt.Sprintf("h%d", i)
	}
	be := newSSHTestBackend(t, keys)
	cfg := pool.PoolConfig{MaxConnections: conns, MaxConnectionsPerKey: 1, WarmupKeys: keys, WarmupConnections: 1,
		DialTimeout: time.Minute, Advanced: pool.AdvancedPoolConfig{WarmupParallelism: 16}}
	p := pool.NewPool(be.factory, cfg, nil)
	if err := p.Warmup(context.Background()); err != nil {
		t.Fatal(err)
	}
	runAll(t, p, keys)
	if s := p.GetSnapshot(); s.Total != conns || s.Created != int64(conns) || be.srv.Stats().ConnsOpen != int64(conns) {
		t.Errorf("total=%d created=%d server open=%d", s.Total, s.Created, be.srv.Stats().ConnsOpen)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	ps := make([]pool.Pool, pools)
	for i := range ps {
		ps[i] = pool.NewPool(be.factory, pool.PoolConfig{MaxConnections: 2}, nil)
	}
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runAll(t, p, keys[2*i:2*i+2])
		}()
	}
	wg.Wait()
	for _, p := range ps {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}
	if n := be.factory.open.Load(); n != 0 {
		t.Errorf("%d connections left open", n)
	}
}

func runAll(t *testing.T, p pool.Pool, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Run(context.Background(), k, "true"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestStalledServer: a half-open server makes the dial time out (bounded
// by DialTimeout, not by the waiter), and a probe of a stalled connection
// fails the health check; after Unstall the pool recovers.
func TestStalledServer(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a", "b"})
	// The first dial gets room to spare (a loaded machine, go test -race
	// ./..., fails a 200ms handshake by the clock); the 200ms DialTimeout
	// bounds only the stalled dial.
	cfg := pool.PoolConfig{DialTimeout: 10 * time.Second, HealthTimeout: 100 * time.Millisecond}
	p := pool.NewPool(be.factory, cfg, nil)
	defer p.Close()
	c := mustGet(t, p, "a")
	mustRelease(t, p, "a", c)
	cfg.DialTimeout = 200 * time.Millisecond
	if err := p.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	be.srv.Stall()
	_, err := p.Get(context.Background(), "b")
	if k := failure.Classify(err); k != failure.Timeout {
		t.Fatalf("Get on a stalled server = %v (kind %v), want timeout", err, k)
	}
	if rep := p.HealthCheck(context.Background()); rep.Unhealthy != 1 {
		t.Errorf("health report %+v, want the stalled connection unhealthy", rep)
	}
	be.srv.Unstall()
	// The redial after Unstall gets room again.
	cfg.DialTimeout = 10 * time.Second
	if err := p.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), "a", "true"); err != nil {
		t.Errorf("Run after Unstall = %v", err)
	}
}

// TestRefusedThenRecovers: with the listener closed the dial is refused
// (retryable, returned to the waiter); once it listens again Get succeeds.
func TestRefusedThenRecovers(t *testing.T) {
	be := newSSHTestBackend(t, []string{"a"})
	p := pool.NewPool(be.factory, pool.PoolConfig{DialTimeout: 2 * time.Second}, nil)
	defer p.Close()
	if err := be.srv.RefuseNew(true); err != nil {
		t.Fatal(err)
	}
	_, err := p.Get(context.Background(), "a")
	if k := failure.Classify(err); k != failure.Refused && k != failure.Timeout {
		t.Fatalf("Get = %v (kind %v), want refused", err, k)
	}
	if err := be.srv.RefuseNew(false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), "a", "true"); err != nil {
		t.Fatalf("Run after relisten = %v", err)
	}
}
