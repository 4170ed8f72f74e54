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
// boundaries, a last line without newline is sent, empty lines are kept.
func TestStreamSplitsLines(t *testing.T) {
	for _, tc := range []struct {
		chunks []string
		want   []string
	}{
		{[]string{"a\nb\n"}, []string{"a", "b"}},
		{[]string{"a", "b\nc", "\n"}, []string{"ab", "c"}},
		{[]string{"x\n\ny"}, []string{"x", "", "y"}},
		{nil, nil},
	} {
		f := legacy.NewConnectionPool(pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
			return &lineClient{newFakeClient(), tc.chunks}, nil
		}), legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
		c, err := f.GetPooledConnection(fakeServer, false)
		must(t, err)
		out := make(chan string, 10)
		must(t, c.ExecuteCommandStream("x", out))
		close(out)
		var got []string
		for l := range out {
			got = append(got, l)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("chunks %q: lines %q; want %q", tc.chunks, got, tc.want)
		}
		f.Stop()
	}
}

func TestCommandError(t *testing.T) {
	exit := &pool.ExitError{Result: pool.Result{ExitStatus: 2}}
	e := &legacy.CommandError{Op: legacy.OpExec, Key: "h:22:i:app", Cmd: "ls /x", Err: fmt.Errorf("wrapped: %w", exit)}
	if got := e.Error(); got != `legacy: exec "ls /x" on h:22:i:app: wrapped: ssh: command exited with status 2` {
		t.Errorf("Error() = %q", got)
	}
	if e.ExitStatus() != 2 || pool.Classify(e) != pool.KindExit || !errors.Is(e, exit) {
		t.Errorf("exit status %d, kind %v", e.ExitStatus(), pool.Classify(e))
	}
	c := &legacy.CommandError{Op: legacy.OpConnect, Key: "k", Err: pool.ErrPoolClosed}
	if c.Error() != "legacy: connect k: pool: closed" || c.ExitStatus() != -1 || pool.Classify(c) != pool.KindPoolClosed {
		t.Errorf("connect error %q, kind %v", c, pool.Classify(c))
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
	decide := func(c legacy.Connection) legacy.Route { return legacy.DecideConn(c).Route }
	t.Run("event", func(t *testing.T) {
		client, flags := newFlags(t, flagSet(100, false))
		r := legacy.NewRouter(&fakeProvider{}, &fakeProvider{}, client, legacy.WithDecisionCache(time.Hour))
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
		short := connect(t, legacy.NewRouter(&fakeProvider{}, &fakeProvider{}, api.NewClient(), legacy.WithDecisionCache(20*time.Millisecond)), s, false)
		mem.UpdateFlags(flagSet(100, true)) // no event reaches the router
		waitFor(t, func() bool { return decide(short) == legacy.RouteLegacy })
	})
}

// fakeProvider hands out connections that do nothing.
type fakeProvider struct{}

func (fakeProvider) GetOrCreateConnection(*legacy.Server, bool) (legacy.Connection, error) {
	return fakeConn{}, nil
}

type fakeConn struct{}

func (fakeConn) ExecuteCommand(string) (string, error)            { return "", nil }
func (fakeConn) ExecuteCommandStream(string, chan<- string) error { return nil }
func (fakeConn) IsHealthy() bool                                  { return true }
func (fakeConn) TestHealth() error                                { return nil }
func (fakeConn) Close() error                                     { return nil }

// TestVariantCountersBounded: a provider inventing variant names cannot
// grow the counters without bound.
func TestVariantCountersBounded(t *testing.T) {
	f := boolFlag(legacy.FlagUseNewPool, true)
	n := 0
	eval := func(memprovider.InMemoryFlag, openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		n++
		return true, openfeature.ProviderResolutionDetail{Variant: fmt.Sprint("v", n), Reason: openfeature.TargetingMatchReason}
	}
	f.ContextEvaluator = &eval
	client, _ := newFlags(t, map[string]memprovider.InMemoryFlag{
		legacy.FlagKillSwitch: boolFlag(legacy.FlagKillSwitch, false), legacy.FlagUseNewPool: f})
	r := legacy.NewRouter(fakeProvider{}, fakeProvider{}, client)
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
