package featureflags

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/open-feature/go-sdk/openfeature"
)

// EvalRule analyses and runs one JSONLogic rule (JSON text) for flagKey with
// the given flattened context and a fixed timestamp, as a flag's targeting
// would. A rule flagd cannot run is an error; a custom operation that
// cannot use its input makes the result nil, as it makes a flag's rule null.
func EvalRule(ruleJSON, flagKey string, flatCtx map[string]any, now time.Time) (any, error) {
	registerOperators()
	var rule any
	if err := json.Unmarshal([]byte(ruleJSON), &rule); err != nil {
		return nil, err
	}
	c := &ruleCheck{ps: &problems{}, flag: &flag{key: flagKey}}
	c.rule(rule, nil, 0)
	if c.parseErr != "" {
		return nil, errors.New(c.parseErr)
	}
	f := &flag{key: flagKey, flagd: map[string]any{flagdFlagKey: flagKey}, needsTime: mentionsTimestamp(rule)}
	out, err := applyRule(rule, f.evaluationData(flatCtx, func() time.Time { return now }))
	var opErr *operationError
	if errors.As(err, &opErr) {
		return nil, nil
	}
	return out, err
}

// CallOperator calls a custom operator directly with already-evaluated args;
// input the operator cannot use gives nil.
func CallOperator(name string, args, data any) (out any) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(*operationError); !ok {
				panic(p)
			}
			out = nil
		}
	}()
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
	set, ps := parseFlagSet(name, FormatAuto, data)
	if ps.structural() {
		return ps.documentError(name)
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
func Murmur3(s string) uint32 { return hashConcat("", s) }

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
