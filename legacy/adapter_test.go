package legacy_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

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
	if _, err := c.ExecuteCommand("sleep 5"); pool.Classify(err) != pool.KindTimeout {
		t.Fatalf("command timeout: %v (%v)", err, pool.Classify(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ExecuteCommandContext(ctx, "true"); pool.Classify(err) != pool.KindCanceled {
		t.Fatalf("canceled: %v (%v)", err, pool.Classify(err))
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
	if !errors.As(err, &ce) || ce.ErrorKind() != pool.KindPoolClosed || c.IsHealthy() {
		t.Fatalf("after pool Close: %v (kind %v), healthy %v", err, pool.Classify(err), c.IsHealthy())
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
			if tc.wantErr && pool.Classify(err) != pool.KindConnectionLost {
				t.Errorf("kind %v, want connection-lost", pool.Classify(err))
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
