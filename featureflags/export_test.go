package featureflags

import (
	"encoding/json"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/open-feature/go-sdk/openfeature"
)

// EvalRule validates and runs one JSONLogic rule (JSON text) for flagKey with the
// given flattened context and a fixed timestamp, as a flag's targeting would.
func EvalRule(ruleJSON, flagKey string, flatCtx map[string]any, now time.Time) (any, error) {
	registerOperators()
	var rule any
	if err := json.Unmarshal([]byte(ruleJSON), &rule); err != nil {
		return nil, err
	}
	if err := validateRule(rule, nil, 0); err != nil {
		return nil, err
	}
	f := &flag{key: flagKey, flagd: map[string]any{flagdFlagKey: flagKey}, needsTime: mentionsTimestamp(rule)}
	return applyRule(rule, f.evaluationData(flatCtx, func() time.Time { return now }))
}

// CallOperator calls a custom operator directly with already-evaluated args.
func CallOperator(name string, args, data any) any {
	switch name {
	case opFractional:
		return fractional(args, data)
	case opSemVer:
		return semVer(args, data)
	case opStartsWith:
		return startsWith(args, data)
	case opEndsWith:
		return endsWith(args, data)
	}
	panic("unknown operator " + name)
}

// EvaluateAll parses data and evaluates every flag as every type with ctx,
// returning the parse error if any.
func EvaluateAll(name string, data []byte, ctx openfeature.FlattenedContext) error {
	set, err := parseFlagSet(name, FormatAuto, data)
	if err != nil {
		return err
	}
	now := func() time.Time { return time.Unix(1700000000, 0) }
	for _, f := range set.flags {
		for k := kindBool; k <= kindObject; k++ {
			_ = f.evaluate(k, ctx, now)
		}
	}
	return nil
}

// WithClock replaces the provider's clock.
func WithClock(now func() time.Time) ProviderOption {
	return func(c *providerConfig) { c.now = now }
}

// WithLookupEnv replaces the provider's environment lookup.
func WithLookupEnv(f func(string) (string, bool)) ProviderOption {
	return func(c *providerConfig) { c.lookupEnv = f }
}

// Murmur3 exposes the fractional hash.
func Murmur3(s string) uint32 { return murmur3([]byte(s)) }

// WatchEvents starts the file source's watcher goroutine as Init does, fed
// by events instead of fsnotify and without Init's first Reload, so that a
// test can drive the debounce under testing/synctest. stop ends the
// goroutine and waits for it.
func (p *Provider) WatchEvents(events <-chan fsnotify.Event) (stop func()) {
	fs := p.src.(*FileSource)
	w := &watcher{targets: watchTargets(fs.path), events: events,
		stop: make(chan struct{}), done: make(chan struct{})}
	go fs.watchLoop(w, sink{p})
	return func() {
		close(w.stop)
		<-w.done
	}
}
