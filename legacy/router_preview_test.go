package legacy_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/legacy"
)

// TestRouterPreviewHasNoSideEffects: Preview decides as Decide does but
// counts nothing and calls no hook.
func TestRouterPreviewHasNoSideEffects(t *testing.T) {
	flags, _ := newFlags(t, map[string]memprovider.InMemoryFlag{
		legacy.FlagKillSwitch: boolFlag(legacy.FlagKillSwitch, false),
		legacy.FlagUseNewPool: boolFlag(legacy.FlagUseNewPool, true),
	})
	hooked := 0
	r := legacy.NewRouter(nil, nil, flags, legacy.WithDecisionHook(func(legacy.Decision) { hooked++ }))
	defer r.Close()
	s := &legacy.Server{ID: "web-1", Host: "h", AppUsername: "app"}
	d := r.Preview(context.Background(), s, false)
	if d.Route != legacy.RouteNew || d.Reason != legacy.ReasonFlagOn || d.Server != s {
		t.Errorf("Preview = %+v", d)
	}
	if st := r.Stats(); st.Decisions != 0 || hooked != 0 {
		t.Errorf("Preview counted: %+v, hook called %d times", st, hooked)
	}
	if d := r.Decide(context.Background(), s, false); d.Route != legacy.RouteNew || r.Stats().Decisions != 1 || hooked != 1 {
		t.Errorf("Decide = %+v, stats %+v", d, r.Stats())
	}
}
