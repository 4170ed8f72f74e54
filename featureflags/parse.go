package featureflags

import (
	"crypto/sha256"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode"

	"github.com/agnivade/levenshtein"
	"github.com/open-feature/go-sdk/openfeature"
)

// valueKind is the one type shared by all variants of a flag.
type valueKind int

// Variant kinds.
const (
	kindBool valueKind = iota + 1
	kindString
	kindNumber
	kindObject
)

// String names the kind as a flag file author would.
func (k valueKind) String() string {
	switch k {
	case kindBool:
		return "boolean"
	case kindString:
		return "string"
	case kindNumber:
		return "number"
	case kindObject:
		return "object"
	}
	return "unknown"
}

// Known keys of a document and of a flag; others are ignored, as flagd
// ignores them, and reported as advice.
var (
	documentKeys = []string{"flags", "$evaluators", "metadata", "$schema"}
	flagKeys     = []string{"state", "variants", "defaultVariant", "targeting", "metadata"}
)

// flag is one validated flag definition. It is immutable once parsed and shared
// by concurrent evaluations.
type flag struct {
	key            string
	disabled       bool
	kind           valueKind
	variants       map[string]any
	defaultVariant string // meaningful only when hasDefault
	hasDefault     bool
	targeting      any  // rule with $refs resolved (evaluators shared, never modified)
	hasTargeting   bool // false: no rule (absent, null or {}): reason STATIC
	// parseErr, when not empty, is the PARSE_ERROR message of every
	// evaluation: a rule flagd cannot run (unknown operator, missing $ref).
	parseErr   string
	ruleErrors int                      // RuleError problems found in the rule
	ruleIssue  string                   // the first of them, for logs
	metadata   openfeature.FlagMetadata // set-level metadata overlaid by the flag's; nil if none
	flagd      map[string]any           // {"flagKey": key}: the shared "$flagd" object of rules
	fractional []any                    // arguments when the rule is a literal fractional split (fast path)
	needsTime  bool                     // the rule may read $flagd.timestamp
	digest     [32]byte                 // hash of the definition, to detect changed flags
}

// flagSet is one validated flag document. It is immutable and swapped whole.
type flagSet struct {
	flags map[string]*flag
}

// ValidateFlagFile parses and validates the flag file contents data exactly as
// [NewFileProvider] and every reload do, and returns the sorted flag keys. name
// (a path or file name) selects the syntax: ".yaml"/".yml" is YAML, ".json" is
// JSON, anything else is sniffed (a leading '{' means JSON). A document with
// a structural problem is refused with a *[DocumentError] (wrapping
// [ErrInvalidFlagFile]); mistakes inside rules do not refuse it ([Lint]
// reports them).
func ValidateFlagFile(name string, data []byte) ([]string, error) {
	set, ps := parseFlagSet(name, FormatAuto, data)
	if ps.structural() {
		return nil, ps.documentError(name)
	}
	return set.keys(), nil
}

// keys returns the flag keys in order.
func (s *flagSet) keys() []string {
	keys := make([]string, 0, len(s.flags))
	for k := range s.flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseDocument decodes and validates a document a source delivered,
// refusing one larger than maxBytes or with a structural problem.
func parseDocument(doc Document, maxBytes int64) (*flagSet, error) {
	if int64(len(doc.Data)) > maxBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, limit %d", ErrDocumentTooLarge, doc.Origin, len(doc.Data), maxBytes)
	}
	set, ps := parseFlagSet(doc.Origin, doc.Format, doc.Data)
	if ps.structural() {
		return nil, ps.documentError(doc.Origin)
	}
	return set, nil
}

// parseFlagSet decodes and validates a whole flag document, returning every
// problem found. The set is usable only when no problem is structural.
func parseFlagSet(name string, format Format, data []byte) (*flagSet, *problems) {
	registerOperators()
	ps := &problems{}
	doc, p := decodeDocument(name, format, data)
	if p != nil {
		ps.list = append(ps.list, *p)
		return nil, ps
	}
	root, ok := doc.(map[string]any)
	if !ok {
		ps.add(Structural, "", nil, "", "the top level must be an object")
		return nil, ps
	}
	return buildFlagSet(root, ps), ps
}

// buildFlagSet validates the top-level object and every flag, in key order.
func buildFlagSet(root map[string]any, ps *problems) *flagSet {
	for _, k := range sortedKeys(root) {
		if !contains(documentKeys, k) {
			ps.add(Advice, "", []string{k}, "ignores it", "unknown top-level key %s%s", quote(k), didYouMean(k, documentKeys))
		}
	}
	rawFlags, ok := root["flags"].(map[string]any)
	if !ok {
		ps.add(Structural, "", []string{"flags"}, "", `"flags" must be an object of flag definitions`)
	}
	evaluators := parseEvaluators(root["$evaluators"], ps)
	setMeta := parseMetadata(root["metadata"], "", []string{"metadata"}, ps)
	set := &flagSet{flags: make(map[string]*flag, len(rawFlags))}
	for _, key := range sortedKeys(rawFlags) {
		if f := parseFlag(key, rawFlags[key], evaluators, setMeta, ps); f != nil {
			set.flags[key] = f
		}
	}
	return set
}

// parseMetadata reads a metadata object: string keys, scalar values (whole
// numbers become int64 for FlagMetadata.GetInt, others float64). A value of
// another type is ignored, with advice. The decoded map is reused.
func parseMetadata(v any, flagKey string, path []string, ps *problems) openfeature.FlagMetadata {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(Structural, flagKey, path, "", "metadata must be an object")
		return nil
	}
	for _, k := range sortedKeys(m) {
		switch t := m[k].(type) {
		case bool, string:
		case float64:
			m[k] = metadataNumber(t)
		default:
			ps.add(Advice, flagKey, append(path, k), "ignores the entry",
				"metadata %s must be a boolean, string or number", quote(k))
			delete(m, k)
		}
	}
	return openfeature.FlagMetadata(m)
}

// metadataNumber keeps whole numbers as int64 and the rest as float64.
func metadataNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// parseFlag validates one flag definition; nil when it has a structural
// problem (reported in ps).
func parseFlag(key string, raw any, evaluators map[string]*evaluator, setMeta openfeature.FlagMetadata, ps *problems) *flag {
	path := []string{"flags", key}
	if msg := badFlagKey(key); msg != "" {
		ps.add(Structural, "", path, "", "%s", msg)
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		ps.add(Structural, key, path, "", "a flag must be an object with state and variants")
		return nil
	}
	for _, k := range sortedKeys(m) {
		if !contains(flagKeys, k) {
			ps.add(Advice, key, append(path, k), "ignores it", "unknown key %s%s", quote(k), didYouMean(k, flagKeys))
		}
	}
	f := &flag{key: key}
	before := len(ps.list)
	f.parseState(m, path, ps)
	f.parseVariants(m, path, ps)
	f.parseDefault(m, path, ps)
	for _, p := range ps.list[before:] {
		if p.Kind == Structural {
			ps.dropAdviceFrom(before) // about a flag that does not load
			return nil
		}
	}
	f.parseTargeting(m["targeting"], evaluators, append(path, "targeting"), ps)
	f.metadata = mergeMetadata(setMeta, parseMetadata(m["metadata"], key, append(path, "metadata"), ps))
	f.digest = digest(map[string]any{
		"state": m["state"], "variants": f.variants, "defaultVariant": m["defaultVariant"],
		"targeting": f.targeting, "metadata": f.metadata,
	})
	return f
}

// badFlagKey explains what is wrong with a flag key, or returns "".
func badFlagKey(key string) string {
	if key == "" {
		return "a flag key must not be empty"
	}
	for _, r := range key {
		if r == 0 || unicode.IsControl(r) {
			return fmt.Sprintf("flag key %s contains a control character", quote(key))
		}
	}
	return ""
}

// digest hashes a definition: a canonical, length-prefixed encoding of the
// decoded values (maps in key order), without reflection.
func digest(v any) [32]byte {
	return sha256.Sum256(appendCanonical(nil, v))
}

// appendCanonical appends v's canonical encoding to b.
func appendCanonical(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if t {
			return append(b, 't')
		}
		return append(b, 'f')
	case float64:
		return strconv.AppendFloat(append(b, 'd'), t, 'g', -1, 64)
	case int64:
		return strconv.AppendInt(append(b, 'i'), t, 10)
	case string:
		return append(strconv.AppendInt(append(b, 's'), int64(len(t)), 10), t...)
	case []any:
		b = strconv.AppendInt(append(b, 'a'), int64(len(t)), 10)
		for _, e := range t {
			b = appendCanonical(append(b, ','), e)
		}
		return b
	case openfeature.FlagMetadata:
		return appendCanonical(b, map[string]any(t))
	case map[string]any:
		b = strconv.AppendInt(append(b, 'm'), int64(len(t)), 10)
		for _, k := range sortedKeys(t) {
			b = appendCanonical(append(b, ','), k)
			b = appendCanonical(append(b, ':'), t[k])
		}
		return b
	}
	return fmt.Appendf(append(b, '?'), "%T:%v", v, v)
}

// parseState reads the required ENABLED/DISABLED state.
func (f *flag) parseState(m map[string]any, path []string, ps *problems) {
	switch v := m["state"]; v {
	case "ENABLED":
	case "DISABLED":
		f.disabled = true
	case nil:
		ps.add(Structural, f.key, path, "", `"state" is missing: want "ENABLED" or "DISABLED"`)
	default:
		ps.add(Structural, f.key, append(path, "state"), "", `"state" must be "ENABLED" or "DISABLED", got %s`, describe(v))
	}
}

// parseVariants reads the variants, which must be non-empty and of one kind.
func (f *flag) parseVariants(m map[string]any, path []string, ps *problems) {
	v, ok := m["variants"].(map[string]any)
	switch {
	case m["variants"] == nil:
		ps.add(Structural, f.key, path, "", `"variants" is missing`)
		return
	case !ok || len(v) == 0:
		ps.add(Structural, f.key, append(path, "variants"), "", `"variants" must be a non-empty object`)
		return
	}
	for _, name := range sortedKeys(v) {
		k := kindOf(v[name])
		if k == 0 {
			ps.add(Structural, f.key, append(path, "variants", name), "", "variant %s has no value", quote(name))
			return
		}
		if f.kind != 0 && k != f.kind {
			ps.add(Structural, f.key, append(path, "variants", name), "", "variants mix %s and %s values", f.kind, k)
			return
		}
		f.kind = k
	}
	f.variants = v
}

// kindOf classifies a variant value; 0 for null.
func kindOf(v any) valueKind {
	switch v.(type) {
	case bool:
		return kindBool
	case string:
		return kindString
	case float64:
		return kindNumber
	case map[string]any, []any:
		return kindObject
	}
	return 0
}

// parseDefault reads defaultVariant: absent/null, or the name of a variant.
func (f *flag) parseDefault(m map[string]any, path []string, ps *problems) {
	v := m["defaultVariant"]
	if v == nil {
		ps.add(Advice, f.key, path, "a rule returning null, or no rule, gives the caller's default (reason DEFAULT)",
			"no defaultVariant")
		return
	}
	name, ok := v.(string)
	if !ok {
		ps.add(Structural, f.key, append(path, "defaultVariant"), "", `"defaultVariant" must be a variant name or null, got %s`, describe(v))
		return
	}
	if _, ok := f.variants[name]; !ok && f.variants != nil {
		ps.add(Structural, f.key, append(path, "defaultVariant"), "", "defaultVariant %s is not a variant", quote(name))
		return
	}
	f.defaultVariant, f.hasDefault = name, true
}

// mergeMetadata overlays flag metadata on set metadata; nil if both are
// empty. When one is empty the other is returned as is (metadata is shared
// and never modified), which saves a map per flag.
func mergeMetadata(set, own openfeature.FlagMetadata) openfeature.FlagMetadata {
	switch {
	case len(set)+len(own) == 0:
		return nil
	case len(set) == 0:
		return own
	case len(own) == 0:
		return set
	}
	out := make(openfeature.FlagMetadata, len(set)+len(own))
	for k, v := range set {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// describe names a JSON value for a message, cutting strings short.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(t)
	case bool, float64:
		return fmt.Sprint(t)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// didYouMean suggests the known key closest to k (at most two edits away),
// as ` (did you mean "targeting"?)`, or "". A key over 64 bytes is close to
// none (no known key is that long, and its distances would cost time).
func didYouMean(k string, known []string) string {
	if len(k) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, c := range known {
		if d := levenshtein.ComputeDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
