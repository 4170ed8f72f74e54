package featureflags

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// resolution is the outcome of resolving one flag before it is converted to the
// type the caller asked for. When err is set the caller's default is returned.
type resolution struct {
	value    any
	reason   openfeature.Reason
	variant  string
	metadata openfeature.FlagMetadata
	err      *openfeature.ResolutionError
}

// detail converts r into OpenFeature's provider resolution detail.
func (r resolution) detail() openfeature.ProviderResolutionDetail {
	d := openfeature.ProviderResolutionDetail{
		Reason:       r.reason,
		Variant:      r.variant,
		FlagMetadata: r.metadata,
	}
	if r.err != nil {
		d.ResolutionError = *r.err
	}
	return d
}

// errorResolution is a failed resolution with reason ERROR.
func errorResolution(err openfeature.ResolutionError, md openfeature.FlagMetadata) resolution {
	return resolution{reason: openfeature.ErrorReason, metadata: md, err: &err}
}

// evaluate resolves f against the flattened evaluation context. want is the
// kind the caller asked for; a different kind is TYPE_MISMATCH.
func (f *flag) evaluate(want valueKind, flatCtx openfeature.FlattenedContext, now func() time.Time) resolution {
	if f.kind != want {
		return errorResolution(openfeature.NewTypeMismatchResolutionError(
			fmt.Sprintf("flag %s is %s, not %s", quote(f.key), f.kind, want)), f.metadata)
	}
	if f.disabled {
		return resolution{reason: openfeature.DisabledReason, metadata: f.metadata}
	}
	if f.parseErr != "" {
		// A rule flagd cannot run at all (unknown operator, missing $ref):
		// PARSE_ERROR for this flag only, as flagd reports it.
		return errorResolution(openfeature.NewParseErrorResolutionError(f.parseErr), f.metadata)
	}
	if !f.hasTargeting {
		return f.defaultResolution(openfeature.StaticReason)
	}
	if f.fractional != nil {
		// Fast path for the typical rollout rule, with the same result as
		// JSONLogic (which would clone the context and the arguments): it
		// keeps the router's per-call decision within its 2 µs budget
		// (BenchmarkEvaluateUseNewPool).
		tk, _ := flatCtx[openfeature.TargetingKey].(string)
		out, ok := fractionalFor(f.fractional, f.key, tk, nil)
		if !ok {
			return f.defaultResolution(openfeature.DefaultReason)
		}
		return f.targetingResolution(out)
	}
	out, err := applyRule(f.targeting, f.evaluationData(flatCtx, now))
	var opErr *operationError
	switch {
	case errors.As(err, &opErr):
		// A custom operation could not use its input: the rule is null,
		// the default variant, as flagd resolves it.
		return f.defaultResolution(openfeature.DefaultReason)
	case err != nil:
		// The rule cannot be applied to this context (an ill-typed operand):
		// PARSE_ERROR, "invalid rule", as flagd reports a JSONLogic failure.
		return errorResolution(openfeature.NewParseErrorResolutionError(
			fmt.Sprintf("flag %s: targeting rule failed: %v", quote(f.key), err)), f.metadata)
	}
	return f.targetingResolution(out)
}

// defaultResolution returns the default variant with reason, or the caller's
// default (reason DEFAULT) when the flag has no default variant.
func (f *flag) defaultResolution(reason openfeature.Reason) resolution {
	if !f.hasDefault {
		return resolution{reason: openfeature.DefaultReason, metadata: f.metadata}
	}
	return resolution{
		value:    f.variants[f.defaultVariant],
		reason:   reason,
		variant:  f.defaultVariant,
		metadata: f.metadata,
	}
}

// targetingResolution maps a rule's result to a variant, as flagd does: a
// variant name, true/false for the variants "true"/"false", a number for
// the variant named by its JSON text; null means the default variant.
// Anything else, or a name that is not a variant, is GENERAL.
func (f *flag) targetingResolution(out any) resolution {
	if out == nil {
		return f.defaultResolution(openfeature.DefaultReason)
	}
	name, ok := variantName(out)
	if !ok {
		return errorResolution(openfeature.NewGeneralResolutionError(
			fmt.Sprintf("flag %s: targeting returned a %T, not a variant name", quote(f.key), out)), f.metadata)
	}
	v, ok := f.variants[name]
	if !ok {
		return errorResolution(openfeature.NewGeneralResolutionError(
			fmt.Sprintf("flag %s: targeting returned %s, which is not a variant", quote(f.key), quote(name))), f.metadata)
	}
	return resolution{value: v, reason: openfeature.TargetingMatchReason, variant: name, metadata: f.metadata}
}

// applyRule runs a validated rule, turning any panic of the JSONLogic library
// (it panics on some ill-typed inputs, and recovers only error values) into an
// error.
func applyRule(rule any, data map[string]any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				out, err = nil, e
				return
			}
			out, err = nil, fmt.Errorf("featureflags: rule panicked: %s", inputfile.Excerpt(fmt.Sprint(p), 200))
		}
	}()
	//lint:ignore SA1019 Apply takes JSON readers: it would re-encode the parsed rule and the context on every evaluation. ApplyInterface is exported in the pinned v3.5.1.
	return jsonlogic.ApplyInterface(rule, data)
}

// evaluationData builds the data object a rule sees: the context's attributes
// (numbers as float64, as JSONLogic expects), "targetingKey", and "$flagd" with
// flagKey and, when the rule mentions it, timestamp (Unix seconds).
//
// The flattened context is cloned (the caller's map is never modified) and a
// flag's static "$flagd" object is shared, so a typical evaluation allocates
// only the clone.
func (f *flag) evaluationData(flatCtx openfeature.FlattenedContext, now func() time.Time) map[string]any {
	data := maps.Clone(map[string]any(flatCtx))
	if data == nil {
		data = make(map[string]any, 1)
	}
	for k, v := range data {
		if c, changed := contextValue(v, 0); changed {
			data[k] = c
		}
	}
	if f.flagd != nil {
		data[flagdKey] = f.flagd
	}
	if f.needsTime {
		data[flagdKey] = map[string]any{
			flagdFlagKey:      f.key,
			flagdTimestampKey: float64(now().Unix()),
		}
	}
	return data
}

// mentionsTimestamp reports whether a rule may read $flagd.timestamp: any
// string in it names "timestamp", or "$flagd" other than "$flagd.flagKey"
// (e.g. {"var": "$flagd"}). A variable name assembled from parts without those
// words does not get the timestamp.
func mentionsTimestamp(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, flagdTimestampKey) ||
			(strings.Contains(t, flagdKey) && t != flagdKey+"."+flagdFlagKey)
	case []any:
		return slices.ContainsFunc(t, mentionsTimestamp)
	case map[string]any:
		for k, e := range t {
			if mentionsTimestamp(k) || mentionsTimestamp(e) {
				return true
			}
		}
	}
	return false
}

// contextValue converts an attribute to the JSON value types JSONLogic
// understands; changed is false when v is used as is (the common case: string,
// bool, int, float64, nil). Values of other types are passed unchanged.
func contextValue(v any, depth int) (out any, changed bool) {
	switch t := v.(type) {
	case nil, string, bool, float64, int:
		return v, false
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32:
		return toFloat(t), true
	case time.Time:
		return float64(t.Unix()), true
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	case map[string]any:
		return contextMap(t, depth), true
	case []any:
		return contextSlice(t, depth), true
	}
	return v, false
}

// contextMap converts nested attribute maps (bounded depth).
func contextMap(m map[string]any, depth int) any {
	if depth >= maxDepth {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k], _ = contextValue(e, depth+1)
	}
	return out
}

// contextSlice converts nested attribute lists (bounded depth).
func contextSlice(s []any, depth int) any {
	if depth >= maxDepth {
		return nil
	}
	out := make([]any, len(s))
	for i, e := range s {
		out[i], _ = contextValue(e, depth+1)
	}
	return out
}

// toFloat converts any Go integer or float32 to float64.
func toFloat(v any) float64 {
	switch t := v.(type) {
	case int8:
		return float64(t)
	case int16:
		return float64(t)
	case int32:
		return float64(t)
	case int64:
		return float64(t)
	case uint:
		return float64(t)
	case uint8:
		return float64(t)
	case uint16:
		return float64(t)
	case uint32:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return float64(t)
	}
	return math.NaN()
}
