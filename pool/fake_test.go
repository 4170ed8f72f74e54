package pool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/endhooks"
	"github.com/sshpool/sshpool/pool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClient is an in-memory SSHClient. Commands: "ok" succeeds, "fail"
// exits 1, "lost" fails with io.EOF (connection lost), "limit" is refused
// as over the session limit, "block" waits for ctx.
type fakeClient struct {
	id        int
	key       string
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
	keepErr   atomic.Pointer[error]
	lieAlive  atomic.Bool // Alive reports true even after Close
	runs      atomic.Int64
	f         *fakeFactory

	end endhooks.Hooks // run by Close before done closes (see endClient)
}

// endClient is a fakeClient that implements pool.EndNotifier, as
// sshconn.Client does.
type endClient struct{ *fakeClient }

func (c endClient) NotifyEnd(f func()) { c.end.NotifyEnd(f) }

func (c *fakeClient) Run(ctx context.Context, cmd string) (pool.Result, error) {
	return c.Exec(ctx, pool.Command{Cmd: cmd})
}

func (c *fakeClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	c.runs.Add(1)
	if c.closed.Load() {
		return pool.Result{}, net.ErrClosed
	}
	switch cmd.Cmd {
	case "fail":
		r := pool.Result{ExitStatus: 1}
		return r, &pool.ExitError{Result: r}
	case "lost":
		return pool.Result{}, fmt.Errorf("fake: %w", errEOF)
	case "unsent": // the connection turns out dead when the session is opened
		if c.f.unsentLeft.Add(-1) >= 0 {
			_ = c.Close()
			return pool.Result{}, pool.MarkNotStarted(fmt.Errorf("fake: open session: %w", errEOF))
		}
	case "limit":
		if c.f.limitLeft.Add(-1) >= 0 {
			return pool.Result{}, &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "max sessions"}
		}
	case "block":
		<-ctx.Done()
		return pool.Result{}, ctx.Err()
	}
	return pool.Result{Stdout: []byte(c.key + ":" + cmd.Cmd + "\n")}, nil
}

var errEOF = io.EOF

func (c *fakeClient) NewSession(context.Context) (*ssh.Session, error) {
	return nil, errors.New("fake: no sessions")
}

func (c *fakeClient) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("fake: no tunnels")
}

func (c *fakeClient) SendKeepalive(context.Context) (time.Duration, error) {
	if p := c.keepErr.Load(); p != nil {
		return 0, *p
	}
	return time.Microsecond, nil
}

func (c *fakeClient) Alive() bool           { return !c.closed.Load() || c.lieAlive.Load() }
func (c *fakeClient) Done() <-chan struct{} { return c.done }
func (c *fakeClient) Client() *ssh.Client   { return nil }
func (c *fakeClient) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2000 + c.id}
}

func (c *fakeClient) Err() error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	return nil
}

func (c *fakeClient) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.end.End()
		close(c.done)
		c.f.open.Add(-1)
	})
	return nil
}

// kill simulates the server dropping the connection.
func (c *fakeClient) kill() { _ = c.Close() }

// fakeFactory dials fakeClients. Errors and blocking are configurable.
type fakeFactory struct {
	mu      sync.Mutex // guards clients, err, gate
	clients []*fakeClient
	err     error         // returned by Dial when set
	gate    chan struct{} // when set, Dial waits for a receive or ctx
	entered chan string   // when set, Dial sends the key on entry
	notify  bool          // Dial returns endClients (pool.EndNotifier)

	dials      atomic.Int64
	open       atomic.Int64
	maxOpen    atomic.Int64
	limitLeft  atomic.Int64 // "limit" commands refused while > 0
	unsentLeft atomic.Int64 // "unsent" commands lose their connection before starting while > 0
}

func newFactory() *fakeFactory { return &fakeFactory{} }

// execs returns the number of Exec calls on all clients dialled so far.
func (f *fakeFactory) execs() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, c := range f.clients {
		n += c.runs.Load()
	}
	return n
}

func (f *fakeFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	f.dials.Add(1)
	f.mu.Lock()
	gate, err, entered := f.gate, f.err, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- key
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeClient{id: len(f.clients) + 1, key: key, done: make(chan struct{}), f: f}
	f.clients = append(f.clients, c)
	n := f.open.Add(1)
	for m := f.maxOpen.Load(); n > m && !f.maxOpen.CompareAndSwap(m, n); m = f.maxOpen.Load() {
	}
	if f.notify {
		return endClient{c}, nil
	}
	return c, nil
}

func (f *fakeFactory) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// block makes Dial wait; it returns the gate to release dials with.
func (f *fakeFactory) block() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	f.entered = make(chan string, 100)
	return f.gate
}

func (f *fakeFactory) client(i int) *fakeClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clients[i]
}

// fakeClock is a manual clock for lifetimes.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// recTracer records every hook as a string, for asserting order/content.
type recTracer struct {
	mu     sync.Mutex // guards events
	events []string
}

func (r *recTracer) add(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recTracer) has(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if len(e) >= len(prefix) && e[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// matching returns the recorded events that begin with prefix.
func (r *recTracer) matching(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// hooks returns a Tracer whose hooks record into r: every hook but the
// command and health-event ones.
func (r *recTracer) hooks() *pool.Tracer {
	return &pool.Tracer{GetStart: r.getStart, GetEnd: r.getEnd, DialStart: r.dialStart, DialEnd: r.dialEnd,
		HealthCheckStart: r.healthCheckStart, HealthCheckEnd: r.healthCheckEnd, Release: r.release,
		StateChange: r.stateChange, ConnClose: r.connClose, Misuse: r.misuse}
}

func (r *recTracer) getStart(ctx context.Context, d pool.GetData) context.Context {
	r.add("get-start %s", d.Key)
	return ctx
}
func (r *recTracer) getEnd(_ context.Context, d pool.GetData) {
	r.add("get-end %s hit=%t err=%v", d.Key, d.Hit, d.Err)
}
func (r *recTracer) dialStart(ctx context.Context, d pool.DialData) context.Context {
	r.add("dial-start %s", d.Key)
	return ctx
}
func (r *recTracer) dialEnd(_ context.Context, d pool.DialData) {
	r.add("dial-end %s kind=%v err=%v", d.Key, d.Kind, d.Err)
}
func (r *recTracer) release(d pool.ReleaseData) { r.add("release %s %d", d.Key, d.ConnID) }
func (r *recTracer) healthCheckStart(ctx context.Context, d pool.HealthCheckData) context.Context {
	r.add("health-start %s", d.Key)
	return ctx
}
func (r *recTracer) healthCheckEnd(_ context.Context, d pool.HealthCheckData) {
	r.add("health-end %s err=%v", d.Key, d.Err)
}
func (r *recTracer) stateChange(d pool.StateChangeData) {
	r.add("state %s %v->%v %v", d.Key, d.From, d.To, d.Reason)
}
func (r *recTracer) connClose(d pool.ConnCloseData) {
	if d.Strategy != "" {
		r.add("close %s %v strategy=%s", d.Key, d.Reason, d.Strategy)
		return
	}
	r.add("close %s %v", d.Key, d.Reason)
}
func (r *recTracer) misuse(d pool.MisuseData) { r.add("misuse %s %v", d.Op, d.Err) }

// testConfig is a small config for unit tests.
// newPoolWithMonitor is NewPool with cfg's Advanced.HealthMonitor set to m.
func newPoolWithMonitor(f pool.ConnectionFactory, cfg pool.PoolConfig, m pool.HealthMonitor) pool.Pool {
	cfg.Advanced.HealthMonitor = m
	return pool.NewPool(f, cfg, nil)
}

func testConfig() pool.PoolConfig {
	return pool.PoolConfig{MaxConnections: 4, MaxConnectionsPerKey: 2, MaxSessionsPerConnection: 2,
		DialTimeout: 5 * time.Second, Advanced: pool.AdvancedPoolConfig{RetryBackoff: time.Millisecond}}
}

// oneSlotConfig is testConfig with one connection per key and one lease
// per connection: the second Get on a key waits.
func oneSlotConfig() pool.PoolConfig {
	cfg := testConfig()
	cfg.MaxConnectionsPerKey, cfg.MaxSessionsPerConnection = 1, 1
	return cfg
}

// newTestPool returns a pool closed at the end of the test, with its
// invariants checked then.
func newTestPool(t testing.TB, f pool.ConnectionFactory, cfg pool.PoolConfig, tr *pool.Tracer) pool.Pool {
	t.Helper()
	p := pool.NewPool(f, cfg, tr)
	t.Cleanup(func() {
		if err := pool.CheckInvariants(p); err != nil {
			t.Errorf("invariants before Close: %v", err)
		}
		_ = p.Close()
	})
	return p
}

func mustGet(t testing.TB, p pool.Pool, key string) pool.SSHClient {
	t.Helper()
	c, err := p.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return c
}

func mustRelease(t testing.TB, p pool.Pool, key string, c pool.SSHClient) {
	t.Helper()
	if err := p.Release(key, c); err != nil {
		t.Fatalf("Release(%q): %v", key, err)
	}
}
