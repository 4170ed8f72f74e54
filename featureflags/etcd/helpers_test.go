package etcd_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/legacy"
)

// routingDoc returns a flag document with kill-switch and use-new-pool
// static at the given values.
func routingDoc(kill, newPool bool) string {
	v := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return fmt.Sprintf(`{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": %q},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": %q}
}}`, v(kill), v(newPool))
}

// ctxT returns a context ending after d or with the test.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sourceConfig returns a source config for srv with short timeouts.
func sourceConfig(srv *etcdtest.Server) etcd.Config {
	cc := srv.ClientConfig()
	return etcd.Config{Endpoints: cc.Endpoints, TLS: cc.TLS, Username: cc.Username, Password: cc.Password,
		DialTimeout: time.Second, RequestTimeout: 2 * time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

// instance is one flag consumer: a source with its own client, a provider
// and an isolated OpenFeature API, started.
type instance struct {
	src      *etcd.Source
	provider *featureflags.Provider
	flags    *featureflags.Flags
}

// startInstance builds and starts an instance on cfg; it is shut down in
// t.Cleanup.
func startInstance(t testing.TB, cfg etcd.Config) *instance {
	t.Helper()
	src, err := etcd.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, src)
}

func startOn(t testing.TB, src *etcd.Source) *instance {
	t.Helper()
	in := startSource(t, src)
	in.src = src
	return in
}

// startSource builds and starts an instance on any source (a wrapped
// etcd source); its src field is nil.
func startSource(t testing.TB, src featureflags.Source) *instance {
	t.Helper()
	p, err := featureflags.NewProvider(src)
	if err != nil {
		t.Fatal(err)
	}
	f := featureflags.NewFlags(p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := f.Start(ctxT(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return &instance{provider: p, flags: f}
}

// routesNew is the router's decision (legacy.Router) for one server.
func (in *instance) routesNew() bool {
	r := legacy.NewRouter(nil, nil, in.flags.Client()) // decides only: no pools
	defer r.Close()
	return r.Decide(context.Background(), &legacy.Server{ID: "s1", Host: "h", Port: 22, Name: "n"}, false).Route == legacy.RouteNew
}

// eventually polls cond every 5 ms until it holds, failing the test after
// d (a hang bound, not a performance goal).
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// put writes doc under key and returns the revision.
func put(t testing.TB, c *clientv3.Client, key, doc string) int64 {
	t.Helper()
	r, err := c.Put(ctxT(t, 10*time.Second), key, doc)
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Revision
}

func itoa(n int64) string { return fmt.Sprint(n) }

// syncBuffer is a bytes.Buffer safe for a logger's writes from the
// source's goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// healthRecorder is a source that records every health its etcd source
// reports, passing everything on to the provider unchanged.
type healthRecorder struct {
	*etcd.Source
	mu     sync.Mutex
	health []featureflags.SourceHealth
}

func (r *healthRecorder) Start(ctx context.Context, sink featureflags.Sink) error {
	return r.Source.Start(ctx, recordingSink{Sink: sink, r: r})
}

// reported returns the first health reported whose detail contains every
// one of parts, and whether there is one.
func (r *healthRecorder) reported(parts ...string) (featureflags.SourceHealth, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, h := range r.health {
		for _, p := range parts {
			if !strings.Contains(h.Detail, p) {
				continue next
			}
		}
		return h, true
	}
	return featureflags.SourceHealth{}, false
}

// downs returns the details of the healths reported as not connected.
func (r *healthRecorder) downs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.health {
		if !h.Connected {
			out = append(out, h.Detail)
		}
	}
	return out
}

type recordingSink struct {
	featureflags.Sink
	r *healthRecorder
}

func (s recordingSink) SetHealth(h featureflags.SourceHealth) {
	s.r.mu.Lock()
	s.r.health = append(s.r.health, h)
	s.r.mu.Unlock()
	s.Sink.SetHealth(h)
}
