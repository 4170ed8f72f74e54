package legacy_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// BenchmarkRouterDecision measures one routing decision with the in-memory
// provider on an isolated API, without the network:
//
//   - path=command is what every command pays (the connection's cached key
//     and evaluation context; two flag evaluations, counters, route note);
//   - path=Decide builds the key and evaluation context per call;
//   - cache=on is path=command with WithDecisionCache (a hit costs a few
//     atomics; the flags are evaluated again after a provider event).
func BenchmarkRouterDecision(b *testing.B) {
	f := &fakeFactory{}
	lp := legacy.NewConnectionPool(legacy.WithFactory(f), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
	b.Cleanup(lp.Stop)
	s := &legacy.Server{ID: "bench-1", Name: "bench", Host: "10.0.0.1", AppUsername: "app"}
	for _, pct := range []int{0, 50, 100} {
		client, _ := newFlags(b, flagSet(pct, false))
		for _, cache := range []time.Duration{0, time.Minute} {
			r := legacy.NewRouter(lp, lp, client, legacy.WithDecisionCache(cache))
			b.Cleanup(func() { r.Close() })
			conn, err := r.GetOrCreateConnection(s, false)
			if err != nil {
				b.Fatal(err)
			}
			name := "pct=" + itoa(pct) + "/cache=" + map[bool]string{false: "off", true: "on"}[cache > 0]
			b.Run("path=command/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					legacy.DecideConn(conn)
				}
			})
			b.Run("path=command/"+name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						legacy.DecideConn(conn)
					}
				})
			})
		}
		b.Run("path=Decide/pct="+itoa(pct), func(b *testing.B) {
			r := legacy.NewRouter(lp, lp, client)
			b.ReportAllocs()
			for b.Loop() {
				r.Decide(context.Background(), s, false)
			}
		})
	}
}

// BenchmarkRouterDecisionFileProvider is the per-command decision with the
// flagd-format file provider (fractional split), with and without the
// decision cache.
func BenchmarkRouterDecisionFileProvider(b *testing.B) {
	path := filepath.Join(b.TempDir(), "flags.json")
	writeFlagFile(b, path, phase{pct: 50})
	flags := startFileFlags(b, path)
	s := &legacy.Server{ID: "bench-1", Name: "bench", Host: "10.0.0.1", AppUsername: "app"}
	for _, cache := range []time.Duration{0, time.Minute} {
		r := legacy.NewRouter(fakeProvider(b), fakeProvider(b), flags.Client(), legacy.WithDecisionCache(cache))
		b.Cleanup(func() { r.Close() })
		conn, err := r.GetOrCreateConnection(s, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("cache="+map[bool]string{false: "off", true: "on"}[cache > 0], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				legacy.DecideConn(conn)
			}
		})
	}
}

// BenchmarkOldStyleCall is one old-style call through the router,
// GetOrCreateConnection then ExecuteCommand, on fake clients (no network):
// what the router adds per call. cache=off evaluates the flags once per
// call (the connection's first command reuses GetOrCreateConnection's
// decision); cache=on reuses the key's decision across calls.
func BenchmarkOldStyleCall(b *testing.B) {
	lp := legacy.NewConnectionPool(legacy.WithFactory(&fakeFactory{}), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
	b.Cleanup(lp.Stop)
	s := &legacy.Server{ID: "bench-1", Name: "bench", Host: "10.0.0.1", AppUsername: "app"}
	client, _ := newFlags(b, flagSet(100, false))
	for _, cache := range []time.Duration{0, time.Minute} {
		r := legacy.NewRouter(lp, lp, client, legacy.WithDecisionCache(cache))
		b.Cleanup(func() { r.Close() })
		call := func() {
			conn, err := r.GetOrCreateConnection(s, false)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := conn.ExecuteCommand("true"); err != nil {
				b.Fatal(err)
			}
		}
		name := "cache=" + map[bool]string{false: "off", true: "on"}[cache > 0]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					call()
				}
			})
		})
	}
}

// BenchmarkAdapterCall is one command on fake clients (no network, no
// output) through the new pool, as Pool.Run and as an old-style call on
// the adapter (GetOrCreateConnection then ExecuteCommand): what the
// adapter adds per call to the pool's own cost, and the router over the
// adapter with its decision cache (use-new-pool at 100 %). The clients
// wait on a command as sshconn's do (on a goroutine of the command's,
// while the caller waits on it and on ctx.Done), so a context's Done
// channel and timer cost what they cost against a real server; Pool.Run
// gets a context that can end, as a request's.
func BenchmarkAdapterCall(b *testing.B) {
	p := pool.NewPool(waitingFactory{&fakeFactory{}}, pool.PoolConfig{MaxConnectionsPerKey: 1}, nil)
	b.Cleanup(func() { p.Close() })
	s := &legacy.Server{ID: "bench-1", Name: "bench", Host: "10.0.0.1", AppUsername: "app"}
	key := legacy.Key(s, false)
	ad := legacy.NewAdapter(p, nil)
	b.Cleanup(ad.Stop)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	flags, _ := newFlags(b, flagSet(100, false))
	r := legacy.NewRouter(fakeProvider(b), ad, flags, legacy.WithDecisionCache(time.Minute))
	b.Cleanup(func() { r.Close() })
	for _, impl := range []struct {
		name string
		call func() error
	}{
		{"pool", func() error { _, err := p.Run(ctx, key, "true"); return err }},
		{"adapter", func() error {
			conn, err := ad.GetOrCreateConnection(s, false)
			if err == nil {
				_, err = conn.ExecuteCommand("true")
			}
			return err
		}},
		{"router", func() error {
			conn, err := r.GetOrCreateConnection(s, false)
			if err == nil {
				_, err = conn.ExecuteCommand("true")
			}
			return err
		}},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			if err := impl.call(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := impl.call(); err != nil {
					b.Fatal(err)
				}
			}
			if st := r.Stats(); impl.name == "router" && (st.New == 0 || st.Legacy != 0) {
				b.Fatalf("router sent %d calls to the new pool and %d to legacy; want all to the new pool", st.New, st.Legacy)
			}
		})
	}
}

// waitingFactory dials waitingClients.
type waitingFactory struct{ f *fakeFactory }

func (w waitingFactory) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	c, err := w.f.Dial(ctx, key)
	if err != nil {
		return nil, err
	}
	return waitingClient{c.(*fakeClient)}, nil
}

// waitingClient is a fakeClient that waits on a command as sshconn.Client
// does when ctx can end: the command runs on a goroutine of its own while
// the caller waits for it or for ctx.Done.
type waitingClient struct{ *fakeClient }

func (c waitingClient) Run(ctx context.Context, cmd string) (pool.Result, error) {
	return c.Exec(ctx, pool.Command{Cmd: cmd})
}

func (c waitingClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	if ctx.Done() == nil {
		return c.fakeClient.Exec(ctx, cmd)
	}
	var (
		res  pool.Result
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		res, err = c.fakeClient.Exec(ctx, cmd)
	}()
	select {
	case <-done:
		return res, err
	case <-ctx.Done():
		<-done
		return res, ctx.Err()
	}
}
