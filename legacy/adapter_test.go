package legacy_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// TestAdapterLeasesPerCommand: the adapter holds no lease between
// commands, and its status reflects the pool's connections.
func TestAdapterLeasesPerCommand(t *testing.T) {
	e := newEnv(t)
	ad, p := e.adapter(t)
	s := e.server("a1")
	c := connect(t, ad, s, true)
	for range 3 {
		if _, err := c.ExecuteCommand("true"); err != nil {
			t.Fatal(err)
		}
	}
	snap := p.GetSnapshot()
	if got := p.Entries(); len(got) != 1 || got[0].Leases != 0 {
		t.Fatalf("entries = %v", got)
	}
	st := ad.GetConnectionStatus()[legacy.Key(s, true)]
	if !st.Healthy || st.InUse != 0 || st.UseCount != 3 || st.Pool != legacy.PoolNew || st.Age <= 0 {
		t.Fatalf("status = %+v (snapshot %+v)", st, snap)
	}
}

func TestAdapterContextAndTimeouts(t *testing.T) {
	e := newEnv(t)
	ad, _ := e.adapter(t, legacy.WithCommandTimeout(100*time.Millisecond))
	s := e.server("a2")
	c, err := ad.GetOrCreateConnectionContext(context.Background(), s, false)
	must(t, err)
	if _, err := c.ExecuteCommand("sleep 5"); failure.Classify(err) != failure.Timeout {
		t.Fatalf("command timeout: %v (%v)", err, failure.Classify(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ExecuteCommandContext(ctx, "true"); failure.Classify(err) != failure.Canceled {
		t.Fatalf("canceled: %v (%v)", err, failure.Classify(err))
	}
	// The stream on an adapter with the default timeout: 100 ms is not
	// always enough to open a session on a loaded machine.
	ad2, _ := e.adapter(t)
	c2, err := ad2.GetOrCreateConnectionContext(context.Background(), s, false)
	must(t, err)
	lines := make(chan string, 4)
	if err := c2.ExecuteCommandStreamContext(context.Background(), "yes 3", lines); err != nil || len(lines) != 3 {
		t.Fatalf("stream: %v, %d lines", err, len(lines))
	}
}

// TestAdapterHealthyConnectionWithoutLease: GetOrCreateConnection returns
// a key's open, healthy connection without leasing (the old pool returned
// its cached connection without I/O) and counts the use, and leases again
// (so that an unreachable server fails there) for a new connection once the
// connection was closed, the server's settings changed or a command lost
// the connection.
func TestAdapterHealthyConnectionWithoutLease(t *testing.T) {
	e := newEnv(t)
	ad, p := e.adapter(t)
	s := e.server("a8")
	c := connect(t, ad, s, false)
	key := legacy.Key(s, false)
	gets, uses := p.GetSnapshot().Gets, ad.GetConnectionStatus()[key].UseCount
	if again := connect(t, ad, s, false); again != c || p.GetSnapshot().Gets != gets {
		t.Fatalf("second GetOrCreateConnection: same connection %v, gets %d → %d; want the same one and no lease",
			again == c, gets, p.GetSnapshot().Gets)
	}
	if got := ad.GetConnectionStatus()[key].UseCount; got != uses+1 {
		t.Fatalf("UseCount after a cached hit = %d, want %d (the old pool counted every hit)", got, uses+1)
	}
	// Changed settings or a closed connection: a lease first, then a new
	// connection, as on the first call.
	renamed := *s
	renamed.Name = "a8-renamed"
	for _, tc := range []struct {
		name string
		prep func()
		srv  *legacy.Server
	}{
		{"closed", func() { must(t, c.Close()) }, s},
		{"changed settings", func() {}, &renamed},
	} {
		tc.prep()
		gets := p.GetSnapshot().Gets
		got := connect(t, ad, tc.srv, false)
		if got == c || p.GetSnapshot().Gets != gets+1 {
			t.Fatalf("%s: new connection %v, gets %d → %d; want a new one after one lease", tc.name, got != c, gets, p.GetSnapshot().Gets)
		}
		c, s = got, tc.srv
	}
	must(t, e.srv.RefuseNew(true))
	e.srv.DropAll()
	if _, err := c.ExecuteCommand("true"); err == nil {
		t.Fatal("a command with the server gone succeeded")
	}
	if _, err := ad.GetOrCreateConnection(s, false); failure.Classify(err) != failure.Refused {
		t.Fatalf("GetOrCreateConnection after the connection was lost: %v; want the unreachable server's error", err)
	}
	must(t, e.srv.RefuseNew(false))
	if again := connect(t, ad, s, false); again != c {
		t.Fatal("the server back: want the key's connection again")
	}
}

// TestAdapterRegistersOnChange: the registrar is called once per key, and
// again when the server's settings change.
func TestAdapterRegistersOnChange(t *testing.T) {
	e := newEnv(t)
	calls := 0
	reg := legacy.TargetRegistrarFunc(func(key string, s *legacy.Server, asRoot bool) error {
		calls++
		return e.registrar.RegisterServer(key, s, asRoot)
	})
	ad := legacy.NewAdapter(e.newPool(t), reg)
	s := e.server("a3")
	connect(t, ad, s, false)
	connect(t, ad, s, false)
	s2 := *s
	s2.Name = "renamed"
	connect(t, ad, &s2, false)
	if calls != 2 {
		t.Fatalf("registrar called %d times; want 2", calls)
	}
	bad := legacy.TargetRegistrarFunc(func(string, *legacy.Server, bool) error { return legacy.ErrInvalidServer })
	if _, err := legacy.NewAdapter(e.newPool(t), bad).GetOrCreateConnection(s, false); !errors.Is(err, legacy.ErrInvalidServer) {
		t.Fatalf("registrar error: %v", err)
	}
}

func TestAdapterCleanupHooks(t *testing.T) {
	e := newEnv(t)
	var dropped []string
	var cleaned time.Duration
	ad, _ := e.adapter(t,
		legacy.WithIdleDropper(func(key string) bool { dropped = append(dropped, key); return true }),
		legacy.WithStaleCleanup(func(maxAge time.Duration) int { cleaned = maxAge; return 7 }))
	s := e.server("a4")
	connect(t, ad, s, false)
	if !ad.RemoveIdleConnection(s, false) || len(dropped) != 1 || dropped[0] != legacy.Key(s, false) {
		t.Fatalf("dropped %v", dropped)
	}
	if n := ad.CleanupStaleConnections(time.Hour); n != 7 || cleaned != time.Hour || len(ad.GetConnectionStatus()) != 1 {
		t.Fatalf("cleanup = %d (maxAge %v)", n, cleaned)
	}
	if ad.CleanupStaleConnections(-time.Hour); len(ad.GetConnectionStatus()) != 0 {
		t.Fatal("status of an unused key survived a cleanup")
	}
}

// TestAdapterPoolClosed: commands after the pool closed fail with the
// pool's error, classified as pool-closed.
func TestAdapterPoolClosed(t *testing.T) {
	e := newEnv(t)
	ad, p := e.adapter(t)
	c := connect(t, ad, e.server("a5"), false)
	p.Close()
	_, err := c.ExecuteCommand("true")
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.ErrorKind() != failure.PoolClosed || c.IsHealthy() {
		t.Fatalf("after pool Close: %v (kind %v), healthy %v", err, failure.Classify(err), c.IsHealthy())
	}
}

// deadFirstPool wraps a LeasePool: its next `dead` Gets hand out a client
// whose connection turns out dead, before the command started or (started)
// while it ran; later Gets go to the wrapped pool.
type deadFirstPool struct {
	legacy.LeasePool
	started        bool
	dead           atomic.Int32
	gets, releases atomic.Int32
}

func (p *deadFirstPool) Get(ctx context.Context, key string) (pool.SSHClient, error) {
	p.gets.Add(1)
	if p.dead.Add(-1) >= 0 {
		return deadClient{fakeClient: newFakeClient(), started: p.started}, nil
	}
	return p.LeasePool.Get(ctx, key)
}

func (p *deadFirstPool) Release(key string, c pool.SSHClient) error {
	p.releases.Add(1)
	if _, ok := c.(deadClient); ok {
		return nil
	}
	return p.LeasePool.Release(key, c)
}

// configPool is a deadFirstPool that reports a configuration, as
// pool.Pool does.
type configPool struct {
	*deadFirstPool
	cfg pool.PoolConfig
}

func (p configPool) Config() pool.PoolConfig { return p.cfg }

// deadClient fails every command as a lost connection, marked
// pool.ErrNotStarted unless started.
type deadClient struct {
	*fakeClient
	started bool
}

func (c deadClient) Exec(context.Context, pool.Command) (pool.Result, error) {
	err := error(io.EOF)
	if !c.started {
		err = pool.MarkNotStarted(err)
	}
	return pool.Result{ExitStatus: -1}, err
}

// TestAdapterRetriesNotStarted: a command whose leased connection turns
// out dead before the command started runs again on a fresh lease, up to
// pool.NotStartedRetries of the pool's configuration (the defaults' when
// the pool does not report one), as pool.Pool.Run does; one that started
// is not run again. Every lease is released.
func TestAdapterRetriesNotStarted(t *testing.T) {
	var defaults pool.PoolConfig
	defaults.SetDefaults()
	retries := int32(pool.NotStartedRetries(defaults))
	for _, tc := range []struct {
		name       string
		dead       int32
		started    bool
		stream     bool
		perKey     int // the pool reports a config with this MaxConnectionsPerKey
		wantGets   int32
		wantErr    bool
		wantMarked bool
	}{
		{name: "one dead", dead: 1, wantGets: 2},
		{name: "one dead/stream", dead: 1, stream: true, wantGets: 2},
		{name: "two dead", dead: 2, wantGets: 3},
		{name: "all dead", dead: 99, wantGets: 1 + retries, wantErr: true, wantMarked: true},
		{name: "all dead/pool config", dead: 99, perKey: 2, wantGets: 3, wantErr: true, wantMarked: true},
		{name: "started", dead: 1, started: true, wantGets: 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := &deadFirstPool{LeasePool: e.newPool(t), started: tc.started}
			var lp legacy.LeasePool = p
			if tc.perKey > 0 {
				lp = configPool{p, pool.PoolConfig{MaxConnectionsPerKey: tc.perKey}}
			}
			ad := legacy.NewAdapter(lp, e.registrar)
			s := e.server("nr")
			c := connect(t, ad, s, false)
			p.gets.Store(0)
			p.releases.Store(0)
			p.dead.Store(tc.dead)
			var err error
			if tc.stream {
				lines := make(chan string, 4)
				if err = c.ExecuteCommandStream("yes 3", lines); err == nil && len(lines) != 3 {
					t.Errorf("stream sent %d lines, want 3", len(lines))
				}
			} else {
				var out string
				if out, err = c.ExecuteCommand("echo hi"); err == nil && out != "hi\n" {
					t.Errorf("output %q, want %q", out, "hi\n")
				}
			}
			if (err != nil) != tc.wantErr || errors.Is(err, pool.ErrNotStarted) != tc.wantMarked {
				t.Fatalf("err = %v; want error %v, marked not started %v", err, tc.wantErr, tc.wantMarked)
			}
			if tc.wantErr && failure.Classify(err) != failure.ConnectionLost {
				t.Errorf("kind %v, want connection-lost", failure.Classify(err))
			}
			if g, r := p.gets.Load(), p.releases.Load(); g != tc.wantGets || r != g {
				t.Errorf("gets %d, releases %d; want %d of each", g, r, tc.wantGets)
			}
			st := ad.GetConnectionStatus()[legacy.Key(s, false)]
			if st.InUse != 0 || st.UseCount != 1 || st.Healthy == tc.wantErr {
				t.Errorf("status in use %d, uses %d, healthy %v; want 0, 1, %v", st.InUse, st.UseCount, st.Healthy, !tc.wantErr)
			}
		})
	}
}

// boundsPool is a LeasePool that records the deadline of each Get's
// context (zero: none) and leases one boundsClient; while hold is set, Get
// says so on waiting and waits for its context to end.
type boundsPool struct {
	client  *boundsClient
	hold    atomic.Bool
	waiting chan struct{}
	mu      sync.Mutex // guards leases
	leases  []time.Time
}

func newBoundsPool() *boundsPool {
	return &boundsPool{client: &boundsClient{fakeClient: newFakeClient()}, waiting: make(chan struct{}, 1)}
}

func (p *boundsPool) Get(ctx context.Context, key string) (pool.SSHClient, error) {
	dl, _ := ctx.Deadline()
	p.mu.Lock()
	p.leases = append(p.leases, dl)
	p.mu.Unlock()
	if p.hold.Load() {
		p.waiting <- struct{}{}
		<-ctx.Done()
		return nil, &pool.WaitError{Key: key, Err: ctx.Err()}
	}
	return p.client, nil
}

func (p *boundsPool) Release(string, pool.SSHClient) error { return nil }

// lastLease returns the deadline of the latest Get.
func (p *boundsPool) lastLease() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leases[len(p.leases)-1]
}

// boundsClient records the deadline of each command's context.
type boundsClient struct {
	*fakeClient
	mu   sync.Mutex // guards last
	last time.Time
}

func (c *boundsClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	dl, _ := ctx.Deadline()
	c.mu.Lock()
	c.last = dl
	c.mu.Unlock()
	return c.fakeClient.Exec(ctx, cmd)
}

func (c *boundsClient) lastExec() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// TestAdapterLeaseBounds: the lease of GetOrCreateConnection waits at
// most the dial timeout; a command's lease at most the dial timeout, the
// command timeout and the caller's context, whichever ends first; the
// command itself the command timeout and the caller's context; and a
// caller that gives up ends a lease wait at once.
func TestAdapterLeaseBounds(t *testing.T) {
	const short, long = time.Minute, time.Hour
	e := newEnv(t)
	s := e.server("bounds")
	within := func(t *testing.T, what string, got, from, to time.Time) {
		t.Helper()
		if got.Before(from) || got.After(to) {
			t.Fatalf("%s deadline %v, want within [%v, %v]", what, got, from, to)
		}
	}
	for _, tc := range []struct {
		name          string
		dial, command time.Duration
		caller        time.Duration // the caller's own timeout; 0: none
		lease, exec   time.Duration // the bounds expected
	}{
		{name: "command timeout first", dial: long, command: short, lease: short, exec: short},
		{name: "dial timeout first", dial: short, command: long, lease: short, exec: long},
		{name: "caller first", dial: long, command: long, caller: short, lease: short, exec: short},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newBoundsPool()
			ad := legacy.NewAdapter(p, nil, legacy.WithDialTimeout(tc.dial), legacy.WithCommandTimeout(tc.command))
			t.Cleanup(ad.Stop)
			before := time.Now()
			c, err := ad.GetOrCreateConnection(s, false)
			must(t, err)
			within(t, "GetOrCreateConnection's lease", p.lastLease(), before.Add(tc.dial), time.Now().Add(tc.dial))
			before = time.Now()
			ctx := context.Background()
			if tc.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.caller)
				defer cancel()
			}
			if _, err := c.ExecuteCommandContext(ctx, "true"); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			within(t, "the command's lease", p.lastLease(), before.Add(tc.lease), after.Add(tc.lease))
			within(t, "the command", p.client.lastExec(), before.Add(tc.exec), after.Add(tc.exec))
		})
	}
	t.Run("caller cancels the wait", func(t *testing.T) {
		p := newBoundsPool()
		ad := legacy.NewAdapter(p, nil)
		t.Cleanup(ad.Stop)
		c, err := ad.GetOrCreateConnection(s, false)
		must(t, err)
		p.hold.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := make(chan error, 1)
		go func() {
			_, err := c.ExecuteCommandContext(ctx, "true")
			res <- err
		}()
		<-p.waiting
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) || failure.Classify(err) != failure.Canceled {
			t.Fatalf("a lease wait the caller cancelled: %v (kind %v), want context.Canceled", err, failure.Classify(err))
		}
	})
}

// TestAdapterLeaseWaitTimesOut: on the new pool, a command whose lease
// has to wait (the key's one slot is held) gives up after the dial
// timeout with the pool's wait error, not started, and runs once the slot
// is free.
func TestAdapterLeaseWaitTimesOut(t *testing.T) {
	e := newEnv(t)
	p := pool.NewPool(e.factory, pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 1}, nil)
	t.Cleanup(func() { p.Close() })
	ad := legacy.NewAdapter(p, e.registrar, legacy.WithDialTimeout(100*time.Millisecond))
	t.Cleanup(ad.Stop)
	s := e.server("wait")
	c := connect(t, ad, s, false)
	held, err := p.Get(context.Background(), legacy.Key(s, false))
	must(t, err)
	_, err = c.ExecuteCommand("true")
	var we *pool.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, pool.ErrNotStarted) {
		t.Fatalf("a lease wait past the dial timeout: %v, want a not-started *pool.WaitError with DeadlineExceeded", err)
	}
	must(t, p.Release(legacy.Key(s, false), held))
	if out, err := c.ExecuteCommand("echo ok"); err != nil || out != "ok\n" {
		t.Fatalf("after the slot freed: %q, %v", out, err)
	}
}
