package legacy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// lineClient is a fake client whose command writes given chunks to stdout.
type lineClient struct {
	*fakeClient
	chunks []string
}

func (c *lineClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	for _, ch := range c.chunks {
		if _, err := cmd.Stdout.Write([]byte(ch)); err != nil {
			return pool.Result{}, err
		}
	}
	return pool.Result{}, nil
}

// TestStreamSplitsLines: chunks are split into lines whatever their
// boundaries, on both streams, prefixed; a last line without newline is
// sent, empty lines are kept, a line over 64 KiB is sent in pieces.
func TestStreamSplitsLines(t *testing.T) {
	long := strings.Repeat("x", 64<<10+5)
	for _, tc := range []struct {
		chunks []string
		want   []string
	}{
		{[]string{"a\nb\n"}, []string{"[OUT] a", "[OUT] b"}},
		{[]string{"a", "b\nc", "\n"}, []string{"[OUT] ab", "[OUT] c"}},
		{[]string{"x\n\ny"}, []string{"[OUT] x", "[OUT] ", "[OUT] y"}},
		{[]string{long[:1000], long[1000:] + "\n"}, []string{"[OUT] " + long[:64<<10], "[OUT] xxxxx"}},
		{nil, nil},
	} {
		p := legacy.NewConnectionPool(legacy.WithFactory(pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
			return &lineClient{newFakeClient(), tc.chunks}, nil
		})), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
		c, err := p.GetOrCreateConnection(fakeServer, false)
		must(t, err)
		got, err := collect(func(out chan<- string) error { return c.ExecuteCommandStream("x", out) })
		must(t, err)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("chunks %.40q: lines %.80q; want %.80q", tc.chunks, got, tc.want)
		}
		p.Stop()
	}
}

// gatedClient is a lineClient that closes written once its command has
// written every chunk.
type gatedClient struct {
	lineClient
	written chan struct{}
}

func (c *gatedClient) Exec(ctx context.Context, cmd pool.Command) (pool.Result, error) {
	defer close(c.written)
	return c.lineClient.Exec(ctx, cmd)
}

// TestStreamQueueBytesBounded: a reader that takes nothing while the
// command writes 400 lines of 64 KiB (25 MiB) makes the queue hold at most
// DefaultStreamBytes of them; the rest are dropped and counted, and the
// reader gets the ones held.
func TestStreamQueueBytesBounded(t *testing.T) {
	line := strings.Repeat("x", 64<<10-1) + "\n"
	gc := &gatedClient{lineClient{newFakeClient(), []string{strings.Repeat(line, 400)}}, make(chan struct{})}
	p := legacy.NewConnectionPool(legacy.WithFactory(pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
		return gc, nil
	})), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0), legacy.WithStreamBuffer(0, time.Minute))
	defer p.Stop()
	c, err := p.GetOrCreateConnection(fakeServer, false)
	must(t, err)
	out := make(chan string)
	got := make(chan int)
	go func() {
		<-gc.written // nothing is read while the command writes
		n := 0
		for range out {
			n++
		}
		got <- n
	}()
	err = c.ExecuteCommandStream("x", out)
	close(out)
	delivered := <-got
	// The queue holds what fits in DefaultStreamBytes; the forwarder holds
	// one more, taken from it and waiting for the reader.
	held := legacy.DefaultStreamBytes/len("[OUT] "+line[:len(line)-1]) + 1
	if err != nil || delivered != held || c.GetHealthStatus().DroppedLines != int64(400-held) {
		t.Fatalf("delivered %d, dropped %d, %v; want %d held within %d bytes, %d dropped",
			delivered, c.GetHealthStatus().DroppedLines, err, held, legacy.DefaultStreamBytes, 400-held)
	}
}

func TestCommandError(t *testing.T) {
	exit := &pool.ExitError{Result: pool.Result{ExitStatus: 2}}
	e := &legacy.CommandError{Op: legacy.OpExec, Key: "h:22:i:app", Cmd: "ls /x", Output: "no /x\n", Err: fmt.Errorf("wrapped: %w", exit)}
	if got := e.Error(); got != `command failed: legacy: exec on h:22:i:app: wrapped: ssh: command exited with status 2 (output: "no /x\n")` {
		t.Errorf("Error() = %q", got)
	}
	if e.ExitStatus() != 2 || failure.Classify(e) != failure.Exit || !errors.Is(e, exit) {
		t.Errorf("exit status %d, kind %v", e.ExitStatus(), failure.Classify(e))
	}
	c := &legacy.CommandError{Op: legacy.OpConnect, Key: "k", Err: pool.ErrPoolClosed}
	if c.Error() != "legacy: connect k: pool: closed" || c.ExitStatus() != -1 || failure.Classify(c) != failure.PoolClosed {
		t.Errorf("connect error %q, kind %v", c, failure.Classify(c))
	}
	n := &legacy.CommandError{Op: legacy.OpStream, Key: "k", Cmd: "c", Err: pool.MarkNotStarted(legacy.ErrConnectionClosed)}
	if n.Error() != "connection is not healthy: legacy: stream on k: legacy: connection closed" ||
		!errors.Is(n, legacy.ErrConnectionClosed) || failure.Classify(n) != failure.PoolClosed {
		t.Errorf("not started: %q, kind %v", n, failure.Classify(n))
	}
	h := &legacy.CommandError{Op: legacy.OpHealth, Key: "k", Cmd: "true", Err: context.DeadlineExceeded}
	if h.Error() != "health check failed: legacy: health on k: context deadline exceeded" || failure.Classify(h) != failure.Timeout {
		t.Errorf("health: %q, kind %v", h, failure.Classify(h))
	}
	big := &legacy.CommandError{Op: legacy.OpExec, Key: "k", Output: strings.Repeat("s", 1<<20), Err: exit}
	if len(big.Error()) > 400 || !strings.Contains(big.Error(), "(1048576 bytes)") {
		t.Errorf("a 1 MiB output is echoed whole or unmarked: %d bytes", len(big.Error()))
	}
}

func TestRouteReasonNames(t *testing.T) {
	names := []string{}
	for r := legacy.ReasonFlagOff; r <= legacy.ReasonEvalError+1; r++ {
		names = append(names, r.String())
	}
	want := "flag-off flag-on kill-switch flag-not-found provider-not-ready eval-error reason(6)"
	if strings.Join(names, " ") != want || legacy.RouteNew.String() != "new" || legacy.RouteLegacy.String() != "legacy" {
		t.Errorf("names = %v", names)
	}
}

// noEvents hides a provider's event channel: the API sees no changes.
type noEvents struct{ openfeature.FeatureProvider }

// TestDecisionCache: a cached decision follows a provider event; without
// events it follows after the ttl; Close turns caching off.
func TestDecisionCache(t *testing.T) {
	s := &legacy.Server{ID: "c1", Host: "h", AppUsername: "app"}
	decide := func(c *legacy.PooledConnection) legacy.Route { return legacy.DecideConn(c).Route }
	t.Run("event", func(t *testing.T) {
		client, flags := newFlags(t, flagSet(100, false))
		r := legacy.NewRouter(fakeProvider(t), fakeProvider(t), client, legacy.WithDecisionCache(time.Hour))
		c := connect(t, r, s, false)
		flags.UpdateFlags(flagSet(100, true))
		waitFor(t, func() bool { return decide(c) == legacy.RouteLegacy })
		must(t, r.Close())
		flags.UpdateFlags(flagSet(100, false))
		if decide(c) != legacy.RouteNew {
			t.Fatal("after Close the router still used a cached decision")
		}
	})
	t.Run("ttl", func(t *testing.T) {
		mem := memprovider.NewInMemoryProvider(flagSet(100, false))
		api := isolated.NewAPI()
		must(t, api.SetProviderAndWait(context.Background(), noEvents{mem}))
		defer api.Shutdown(context.Background())
		short := connect(t, legacy.NewRouter(fakeProvider(t), fakeProvider(t), api.NewClient(), legacy.WithDecisionCache(20*time.Millisecond)), s, false)
		mem.UpdateFlags(flagSet(100, true)) // no event reaches the router
		waitFor(t, func() bool { return decide(short) == legacy.RouteLegacy })
	})
	t.Run("latency", func(t *testing.T) {
		// An evaluated decision reports its evaluations' latency; a reused
		// one (from the cache, or GetOrCreateConnection's handed to the
		// first command) evaluated nothing and reports 0.
		for _, ttl := range []time.Duration{time.Hour, 0} {
			client, _ := newFlags(t, flagSet(100, false))
			var seen decisions
			r := legacy.NewRouter(fakeProvider(t), fakeProvider(t), client,
				legacy.WithDecisionCache(ttl), legacy.WithDecisionHook(seen.hook))
			c := connect(t, r, s, false)
			if d := seen.last(); d.Latency <= 0 {
				t.Fatalf("ttl %v: GetOrCreateConnection's evaluated decision has latency %v; want > 0", ttl, d.Latency)
			}
			legacy.DecideConn(c)
			if d := seen.last(); d.Route != legacy.RouteNew || d.Latency != 0 {
				t.Fatalf("ttl %v: reused decision %v with latency %v; want new, 0", ttl, d.Route, d.Latency)
			}
			if st := r.Stats(); st.Decisions != 2 || st.MeanLatency != seen.all[0].Latency/2 {
				t.Fatalf("ttl %v: %d decisions, mean latency %v; want 2, half of %v", ttl, st.Decisions, st.MeanLatency, seen.all[0].Latency)
			}
		}
	})
}

// TestRoutedConnFollowsForgottenKey: once the router forgets a key
// (RemoveConnection, or stale cleanup), a routed connection kept by a
// caller decides on the router's new state for the key, not on what it
// kept: its cached decision is gone with the key.
func TestRoutedConnFollowsForgottenKey(t *testing.T) {
	s := &legacy.Server{ID: "f1", Host: "h", AppUsername: "app"}
	for name, forget := range map[string]func(*legacy.Router){
		"RemoveConnection": func(r *legacy.Router) { r.RemoveConnection(legacy.Key(s, false)) },
		"stale cleanup": func(r *legacy.Router) {
			time.Sleep(2 * time.Millisecond)
			r.CleanupStaleConnections(time.Millisecond)
		},
	} {
		t.Run(name, func(t *testing.T) {
			mem := memprovider.NewInMemoryProvider(flagSet(100, false))
			api := isolated.NewAPI()
			must(t, api.SetProviderAndWait(context.Background(), noEvents{mem}))
			defer api.Shutdown(context.Background())
			r := legacy.NewRouter(fakeProvider(t), fakeProvider(t), api.NewClient(), legacy.WithDecisionCache(time.Hour))
			c := connect(t, r, s, false)
			mem.UpdateFlags(flagSet(100, true)) // no event: only a forgotten key evaluates again
			if d := legacy.DecideConn(c); d.Route != legacy.RouteNew {
				t.Fatalf("before the key was forgotten: %v; want the cached new", d.Route)
			}
			forget(r)
			if d := legacy.DecideConn(c); d.Route != legacy.RouteLegacy || d.Reason != legacy.ReasonKillSwitch {
				t.Fatalf("after the key was forgotten: %v/%v; want legacy/kill-switch, evaluated anew", d.Route, d.Reason)
			}
		})
	}
}

// fakeProvider is a legacy pool over fake clients.
func fakeProvider(t testing.TB) *legacy.ConnectionPool {
	p := legacy.NewConnectionPool(legacy.WithFactory(&fakeFactory{}), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
	t.Cleanup(p.Stop)
	return p
}

// TestVariantCountersBounded: a provider inventing variant names cannot
// grow the counters without bound.
func TestVariantCountersBounded(t *testing.T) {
	f := boolFlag(featureflags.FlagUseNewPool, true)
	n := 0
	eval := func(memprovider.InMemoryFlag, openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		n++
		return true, openfeature.ProviderResolutionDetail{Variant: fmt.Sprint("v", n), Reason: openfeature.TargetingMatchReason}
	}
	f.ContextEvaluator = &eval
	client, _ := newFlags(t, map[string]memprovider.InMemoryFlag{
		featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, false), featureflags.FlagUseNewPool: f})
	r := legacy.NewRouter(fakeProvider(t), fakeProvider(t), client)
	for range 200 {
		r.Decide(context.Background(), fakeServer, false)
	}
	st := r.Stats()
	var sum int64
	for _, v := range st.ByVariant {
		sum += v.Count
	}
	if len(st.ByVariant) > 65 || sum != 200 || st.New != 200 {
		t.Fatalf("%d variant counters, %d counted, new %d", len(st.ByVariant), sum, st.New)
	}
}

// TestNewRouterNilFlagsWithCache is the regression test for "NewRouter with
// WithDecisionCache and a nil flags client panics" (it called AddHandler on
// the nil client): such a router routes everything to legacy, as its
// documentation says, and closes cleanly.
func TestNewRouterNilFlagsWithCache(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Minute} {
		r := legacy.NewRouter(fakeProvider(t), fakeProvider(t), nil, legacy.WithDecisionCache(ttl))
		c := connect(t, r, fakeServer, false)
		for range 3 {
			if d := legacy.DecideConn(c); d.Route != legacy.RouteLegacy || d.Reason != legacy.ReasonProviderNotReady {
				t.Fatalf("ttl %v: decision %v/%v", ttl, d.Route, d.Reason)
			}
		}
		must(t, r.Close())
		must(t, r.Close())
	}
}
