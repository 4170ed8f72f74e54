package legacy_test

import (
	"context"
	"hash/fnv"
	"sync/atomic"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/featureflags"
)

// newFlags binds a memprovider with flags to a fresh isolated API and
// returns its client and the provider (for UpdateFlags). The API is shut
// down at cleanup.
func newFlags(t testing.TB, flags map[string]memprovider.InMemoryFlag) (openfeature.IClient, *memprovider.InMemoryProvider) {
	t.Helper()
	api := isolated.NewAPI()
	p := memprovider.NewInMemoryProvider(flags)
	must(t, api.SetProviderAndWait(context.Background(), p))
	t.Cleanup(func() { api.Shutdown(context.Background()) })
	return api.NewClient(), p
}

// boolFlag is an enabled boolean flag with variants "on" and "off".
func boolFlag(key string, on bool) memprovider.InMemoryFlag {
	v := "off"
	if on {
		v = "on"
	}
	return memprovider.InMemoryFlag{Key: key, State: memprovider.Enabled, DefaultVariant: v,
		Variants: map[string]any{"on": true, "off": false}}
}

// inRollout is a sticky percentage split: the same targeting key always
// lands in the same bucket, and raising pct only adds keys.
func inRollout(flag, key string, pct int) bool {
	h := fnv.New32a()
	h.Write([]byte(flag + "/" + key))
	return int(h.Sum32()%100) < pct
}

// percentFlag is use-new-pool at pct percent of server IDs.
func percentFlag(pct int) memprovider.InMemoryFlag {
	f := boolFlag(featureflags.FlagUseNewPool, false)
	eval := func(this memprovider.InMemoryFlag, fc openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		key, _ := fc[openfeature.TargetingKey].(string)
		if inRollout(this.Key, key, pct) {
			return true, openfeature.ProviderResolutionDetail{Reason: openfeature.SplitReason, Variant: "on"}
		}
		return false, openfeature.ProviderResolutionDetail{Reason: openfeature.SplitReason, Variant: "off"}
	}
	f.ContextEvaluator = &eval
	return f
}

// flagSet returns the flags for a rollout phase.
func flagSet(pct int, kill bool) map[string]memprovider.InMemoryFlag {
	return map[string]memprovider.InMemoryFlag{
		featureflags.FlagKillSwitch: boolFlag(featureflags.FlagKillSwitch, kill),
		featureflags.FlagUseNewPool: percentFlag(pct),
	}
}

// nil2 returns a client whose provider knows no flag at all.
func nil2(t testing.TB) openfeature.IClient {
	c, _ := newFlags(t, map[string]memprovider.InMemoryFlag{})
	return c
}

// memFlag is a flag of the in-memory provider.
type memFlag = memprovider.InMemoryFlag

// idFlag is use-new-pool on for the server ID id only.
func idFlag(id string) memFlag {
	f := boolFlag(featureflags.FlagUseNewPool, false)
	eval := func(_ memprovider.InMemoryFlag, fc openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		if fc[openfeature.TargetingKey] == id {
			return true, openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "on"}
		}
		return false, openfeature.ProviderResolutionDetail{Reason: openfeature.TargetingMatchReason, Variant: "off"}
	}
	f.ContextEvaluator = &eval
	return f
}

// evalCounter counts the evaluations of the kill switch, that is the
// router's uncached decisions.
type evalCounter struct {
	openfeature.UnimplementedHook
	n atomic.Int64
}

func (h *evalCounter) Before(_ context.Context, hc openfeature.HookContext, _ openfeature.HookHints) (*openfeature.EvaluationContext, error) {
	if hc.FlagKey() == featureflags.FlagKillSwitch {
		h.n.Add(1)
	}
	return nil, nil
}

// countEvaluations adds an evalCounter to client and returns its reader.
func countEvaluations(client openfeature.IClient) func() int {
	h := &evalCounter{}
	client.AddHooks(h)
	return func() int { return int(h.n.Load()) }
}
