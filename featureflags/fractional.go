package featureflags

import (
	"math"
	"strconv"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/twmb/murmur3"
)

// maxFractionalWeight bounds the total weight of a fractional split, as flagd
// does.
const maxFractionalWeight = math.MaxInt32

// fractionalEntry is one evaluated [variant, weight] pair of a split.
type fractionalEntry struct {
	variant any // string, bool, float64 or nil, as the entry gave it
	weight  uint64
}

// fractional implements flagd's sticky percentage split:
//
//	{"fractional": [ <optional bucketing expression>, [variant, weight], ... ]}
//
// JSONLogic has evaluated the top-level arguments (the bucketing expression)
// but not the entries, which are array literals: their variant names and
// weights may be rules ({"if": ...}, {"var": ...}), evaluated here against
// the same data on every call. See fractionalFor for the rest; a split that
// has no result is an operationError.
func fractional(values, data any) any {
	args, _ := values.([]any)
	m, _ := data.(map[string]any)
	tk, _ := m[openfeature.TargetingKey].(string)
	flagd, _ := m[flagdKey].(map[string]any)
	fk, _ := flagd[flagdFlagKey].(string)
	v, ok := fractionalFor(args, fk, tk, m)
	if !ok {
		panic(&operationError{op: opFractional})
	}
	return v
}

// fractionalFor evaluates a split (bucketing expression already evaluated)
// for a flag key and targeting key ("" when absent); data evaluates rules
// inside entries (nil when there are none).
//
// The bucketing string is the first argument when it is a string, otherwise
// flagKey + targetingKey (null without a targeting key); a null first
// argument (a bucketing expression naming a missing attribute) falls back to
// that default, as flagd does. hash is MurmurHash3 x86 32-bit, seed 0;
// bucket = hash*totalWeight >> 32; the first entry whose running weight sum
// exceeds bucket wins. A negative weight counts as 0; a split whose weights
// are all 0, that is malformed, or that needs a targeting key and has none,
// has no result (ok false); a single entry always wins, with or without a
// bucketing string. The winning entry's variant may be null.
func fractionalFor(args []any, flagKey, targetingKey string, data map[string]any) (any, bool) {
	if len(args) == 0 {
		return nil, false
	}
	rest, bucket, explicit := args, "", false
	switch first := args[0].(type) {
	case string:
		rest, bucket, explicit = args[1:], first, true
	case nil:
		rest = args[1:]
	case []any:
	default:
		return nil, false
	}
	if len(rest) == 0 {
		return nil, false
	}
	var buf [8]fractionalEntry // no allocation for splits of up to 8 entries
	entries, total, ok := fractionalEntries(buf[:0], rest, data)
	switch {
	case !ok || total == 0:
		return nil, false
	case len(entries) == 1:
		return entries[0].variant, true
	case explicit:
		return pickFractional(entries, hashConcat("", bucket), total), true
	case targetingKey == "":
		return nil, false
	}
	return pickFractional(entries, hashConcat(flagKey, targetingKey), total), true
}

// fractionalEntries evaluates every entry into buf and returns them with the
// total weight; ok is false when an entry is malformed or the total exceeds
// maxFractionalWeight.
func fractionalEntries(buf []fractionalEntry, args []any, data map[string]any) ([]fractionalEntry, uint64, bool) {
	var total uint64
	for _, a := range args {
		e, ok := evalFractionalEntry(a, data)
		if !ok {
			return nil, 0, false
		}
		total += e.weight
		if total > maxFractionalWeight {
			return nil, 0, false
		}
		buf = append(buf, e)
	}
	return buf, total, true
}

// pickFractional walks the entries to the winning variant.
func pickFractional(entries []fractionalEntry, hash uint32, total uint64) any {
	bucket := (uint64(hash) * total) >> 32
	var sum uint64
	for _, e := range entries {
		sum += e.weight
		if bucket < sum {
			return e.variant
		}
	}
	return nil // unreachable: sum reaches total > bucket
}

// evalFractionalEntry reads [variant] or [variant, weight], evaluating either
// part that is a rule. The variant must come out a string, boolean, number
// or null; the weight a whole number (negative counts as 0) or null (1).
func evalFractionalEntry(v any, data map[string]any) (fractionalEntry, bool) {
	pair, ok := v.([]any)
	if !ok || len(pair) == 0 || len(pair) > 2 {
		return fractionalEntry{}, false
	}
	e := fractionalEntry{variant: evalNested(pair[0], data), weight: 1}
	switch e.variant.(type) {
	case string, bool, float64, nil:
	default:
		return fractionalEntry{}, false
	}
	if len(pair) == 2 {
		w, ok := fractionalWeight(evalNested(pair[1], data))
		if !ok {
			return fractionalEntry{}, false
		}
		e.weight = w
	}
	return e, true
}

// evalNested evaluates v when it is a rule (an object), else returns it. A
// rule that fails to evaluate fails the whole evaluation: its error is raised
// again for the outer evaluation to recover.
func evalNested(v any, data map[string]any) any {
	if _, ok := v.(map[string]any); !ok {
		return v
	}
	out, err := applyRule(v, data)
	if err != nil {
		panic(err)
	}
	return out
}

// fractionalWeight accepts a whole number, clamping a negative one to 0 as
// flagd does; null means the default weight 1.
func fractionalWeight(v any) (uint64, bool) {
	var f float64
	switch n := v.(type) {
	case nil:
		return 1, true
	case float64:
		f = n
	case int:
		f = float64(n)
	default:
		return 0, false
	}
	if math.IsNaN(f) || f != math.Trunc(f) {
		return 0, false
	}
	if f <= 0 {
		return 0, true
	}
	if f > maxFractionalWeight {
		return 0, false
	}
	return uint64(f), true
}

// hashConcat is MurmurHash3 x86 32-bit (seed 0) of prefix+key, without
// allocating for keys up to 128 bytes.
func hashConcat(prefix, key string) uint32 {
	var buf [128]byte
	return murmur3.Sum32(append(append(buf[:0], prefix...), key...))
}

// variantName turns a targeting result into a variant name as flagd does:
// a string as is, true/false as "true"/"false", a number as its JSON text.
// ok is false for anything else (objects, arrays).
func variantName(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	}
	return "", false
}
