package featureflags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
	"go.yaml.in/yaml/v3"
)

// maxDepth bounds the nesting of a flag file (and so of every rule), keeping
// validation and evaluation recursion shallow whatever the input.
const maxDepth = 64

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

// flag is one validated flag definition. It is immutable once parsed and shared
// by concurrent evaluations.
type flag struct {
	key            string
	disabled       bool
	kind           valueKind
	variants       map[string]any
	defaultVariant string // meaningful only when hasDefault
	hasDefault     bool
	targeting      any                      // validated rule with $refs resolved; nil means none
	metadata       openfeature.FlagMetadata // set-level metadata overlaid by the flag's; nil if none
	flagd          map[string]any           // {"flagKey": key}: the shared "$flagd" object of rules
	fractional     []any                    // arguments when the rule is a literal fractional split (fast path)
	needsTime      bool                     // the rule may read $flagd.timestamp
	canonical      string                   // stable encoding used to detect changed flags
}

// flagSet is one validated flag file. It is immutable and swapped whole.
type flagSet struct {
	flags map[string]*flag
}

// invalidf builds a validation error; parseFlagSet wraps it in
// ErrInvalidFlagFile.
func invalidf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// ValidateFlagFile parses and validates the flag file contents data exactly as
// [NewFileProvider] and every reload do, and returns the sorted flag keys. name
// (a path or file name) selects the syntax: ".yaml"/".yml" is YAML, ".json" is
// JSON, anything else is sniffed (a leading '{' means JSON). Errors wrap
// [ErrInvalidFlagFile].
func ValidateFlagFile(name string, data []byte) ([]string, error) {
	set, err := parseFlagSet(name, FormatAuto, data)
	if err != nil {
		return nil, err
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
// refusing one larger than maxBytes. Errors name the document's origin.
func parseDocument(doc Document, maxBytes int64) (*flagSet, error) {
	if int64(len(doc.Data)) > maxBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, limit %d", ErrDocumentTooLarge, doc.Origin, len(doc.Data), maxBytes)
	}
	set, err := parseFlagSet(doc.Origin, doc.Format, doc.Data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, doc.Origin)
	}
	return set, nil
}

// parseFlagSet decodes and validates a whole flag document.
func parseFlagSet(name string, format Format, data []byte) (*flagSet, error) {
	registerOperators()
	set, err := decodeFlagSet(name, format, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFlagFile, err)
	}
	return set, nil
}

// decodeFlagSet decodes the document and builds the flag set.
func decodeFlagSet(name string, format Format, data []byte) (*flagSet, error) {
	doc, err := decodeDocument(name, format, data)
	if err != nil {
		return nil, err
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, invalidf("top level must be an object")
	}
	return buildFlagSet(root)
}

// decodeDocument decodes JSON or YAML into plain JSON values (map[string]any,
// []any, string, float64, bool, nil).
func decodeDocument(name string, format Format, data []byte) (any, error) {
	var (
		doc any
		err error
	)
	if isYAML(name, format, data) {
		doc, err = decodeYAML(data)
	} else {
		doc, err = decodeJSON(data)
	}
	if err != nil {
		return nil, err
	}
	return normalize(doc, 0)
}

// isYAML picks the syntax: the format if given, else the file extension,
// else the content.
func isYAML(name string, format Format, data []byte) bool {
	if format != FormatAuto {
		return format == FormatYAML
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return true
	case ".json":
		return false
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return !bytes.HasPrefix(trimmed, []byte("{"))
}

// decodeJSON decodes exactly one JSON value.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, invalidf("json: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidf("json: data after the top-level value")
	}
	return doc, nil
}

// decodeYAML decodes exactly one YAML document.
func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalidf("yaml: empty document")
		}
		return nil, invalidf("yaml: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, invalidf("yaml: more than one document")
	}
	return doc, nil
}

// normalize turns decoded JSON or YAML into plain JSON values: numbers become
// finite float64, YAML scalar map keys become strings; anything else (YAML
// timestamps, binary, NaN, infinities) is rejected.
func normalize(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalidf("nesting deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case nil, bool, string:
		return t, nil
	case float64:
		return finite(t)
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case []any:
		return normalizeSlice(t, depth)
	case map[string]any:
		return normalizeMap(t, depth)
	case map[any]any:
		return normalizeAnyMap(t, depth)
	}
	return nil, invalidf("unsupported value of type %T", v)
}

// finite rejects NaN and infinities, which JSON cannot express.
func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, invalidf("number %v is not finite", f)
	}
	return f, nil
}

// normalizeSlice normalizes every element into a new slice.
func normalizeSlice(s []any, depth int) (any, error) {
	out := make([]any, len(s))
	for i, e := range s {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// normalizeMap normalizes every value into a new map.
func normalizeMap(m map[string]any, depth int) (any, error) {
	out := make(map[string]any, len(m))
	for k, e := range m {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}

// normalizeAnyMap converts a YAML map with scalar keys (true: ..., 1: ...).
func normalizeAnyMap(m map[any]any, depth int) (any, error) {
	out := make(map[string]any, len(m))
	for k, e := range m {
		var key string
		switch k.(type) {
		case string, bool, int, int64, uint64, float64:
			key = fmt.Sprint(k)
		default:
			return nil, invalidf("unsupported map key of type %T", k)
		}
		if _, dup := out[key]; dup {
			return nil, invalidf("duplicate map key %q", key)
		}
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = n
	}
	return out, nil
}

// buildFlagSet validates the top-level object and every flag.
func buildFlagSet(root map[string]any) (*flagSet, error) {
	for k := range root {
		switch k {
		case "flags", "$evaluators", "metadata", "$schema":
		default:
			return nil, invalidf("unknown top-level key %q", k)
		}
	}
	rawFlags, ok := root["flags"].(map[string]any)
	if !ok {
		return nil, invalidf(`"flags" must be an object`)
	}
	evaluators, err := parseEvaluators(root["$evaluators"])
	if err != nil {
		return nil, err
	}
	setMeta, err := parseMetadata(root["metadata"], "metadata")
	if err != nil {
		return nil, err
	}
	set := &flagSet{flags: make(map[string]*flag, len(rawFlags))}
	for key, raw := range rawFlags {
		f, err := parseFlag(key, raw, evaluators, setMeta)
		if err != nil {
			return nil, err
		}
		set.flags[key] = f
	}
	return set, nil
}

// parseEvaluators validates the shared $evaluators (which may not use $ref).
func parseEvaluators(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf(`"$evaluators" must be an object`)
	}
	for name, rule := range m {
		if _, ok := rule.(map[string]any); !ok {
			return nil, invalidf("evaluator %q must be an object", name)
		}
		if err := validateRule(rule, nil, 0); err != nil {
			return nil, fmt.Errorf("evaluator %q: %w", name, err)
		}
	}
	return m, nil
}

// parseMetadata validates a metadata object: string keys, scalar values.
// Whole numbers become int64 (FlagMetadata.GetInt), others float64.
func parseMetadata(v any, where string) (openfeature.FlagMetadata, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("%s must be an object", where)
	}
	md := make(openfeature.FlagMetadata, len(m))
	for k, val := range m {
		switch t := val.(type) {
		case bool, string:
			md[k] = t
		case float64:
			md[k] = metadataNumber(t)
		default:
			return nil, invalidf("%s %q must be a boolean, string or number", where, k)
		}
	}
	return md, nil
}

// metadataNumber keeps whole numbers as int64 and the rest as float64.
func metadataNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// parseFlag validates one flag definition.
func parseFlag(key string, raw any, evaluators map[string]any, setMeta openfeature.FlagMetadata) (*flag, error) {
	m, ok := raw.(map[string]any)
	if key == "" || !ok {
		return nil, invalidf("flag %q must be an object with a non-empty key", key)
	}
	f := &flag{key: key}
	if err := f.parseFields(m, evaluators, setMeta); err != nil {
		return nil, fmt.Errorf("flag %q: %w", key, err)
	}
	canon, err := json.Marshal(map[string]any{
		"state": m["state"], "variants": f.variants, "defaultVariant": m["defaultVariant"],
		"targeting": f.targeting, "metadata": f.metadata,
	})
	if err != nil {
		return nil, invalidf("flag %q: %v", key, err)
	}
	f.canonical = string(canon)
	return f, nil
}

// parseFields fills f from the flag object m.
func (f *flag) parseFields(m map[string]any, evaluators map[string]any, setMeta openfeature.FlagMetadata) error {
	for k := range m {
		switch k {
		case "state", "variants", "defaultVariant", "targeting", "metadata":
		default:
			return invalidf("unknown key %q", k)
		}
	}
	if err := f.parseState(m["state"]); err != nil {
		return err
	}
	if err := f.parseVariants(m["variants"]); err != nil {
		return err
	}
	if err := f.parseDefault(m["defaultVariant"]); err != nil {
		return err
	}
	if err := f.parseTargeting(m["targeting"], evaluators); err != nil {
		return err
	}
	md, err := parseMetadata(m["metadata"], "metadata")
	if err != nil {
		return err
	}
	f.metadata = mergeMetadata(setMeta, md)
	return nil
}

// parseState reads the required ENABLED/DISABLED state.
func (f *flag) parseState(v any) error {
	switch v {
	case "ENABLED":
	case "DISABLED":
		f.disabled = true
	default:
		return invalidf(`"state" must be "ENABLED" or "DISABLED"`)
	}
	return nil
}

// parseVariants reads the variants, which must be non-empty and of one kind.
func (f *flag) parseVariants(v any) error {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return invalidf(`"variants" must be a non-empty object`)
	}
	for name, val := range m {
		k := kindOf(val)
		if k == 0 {
			return invalidf("variant %q has no value", name)
		}
		if f.kind != 0 && k != f.kind {
			return invalidf("variants mix %s and %s values", f.kind, k)
		}
		f.kind = k
	}
	f.variants = m
	return nil
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
func (f *flag) parseDefault(v any) error {
	if v == nil {
		return nil
	}
	name, ok := v.(string)
	if !ok {
		return invalidf(`"defaultVariant" must be a variant name or null`)
	}
	if _, ok := f.variants[name]; !ok {
		return invalidf("defaultVariant %q is not a variant", name)
	}
	f.defaultVariant, f.hasDefault = name, true
	return nil
}

// parseTargeting resolves $refs and validates the rule; absent, null and {}
// mean no targeting.
func (f *flag) parseTargeting(v any, evaluators map[string]any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return invalidf(`"targeting" must be an object`)
	}
	if len(m) == 0 {
		return nil
	}
	rule, err := resolveRefs(m, evaluators, 0)
	if err != nil {
		return err
	}
	if err := validateRule(rule, f, 0); err != nil {
		return err
	}
	f.targeting = rule
	f.flagd = map[string]any{flagdFlagKey: f.key}
	f.needsTime = mentionsTimestamp(rule)
	f.fractional = literalFractional(rule)
	return nil
}

// literalFractional returns the arguments of a rule that is just
// {"fractional": [...]} with literal arguments (no bucketing expression), which
// evaluate skips JSONLogic for; nil otherwise.
func literalFractional(rule any) []any {
	m, _ := rule.(map[string]any)
	args, ok := m[opFractional].([]any)
	if !ok || len(m) != 1 {
		return nil
	}
	for _, a := range args {
		if _, isRule := a.(map[string]any); isRule {
			return nil
		}
	}
	return args
}

// resolveRefs returns a copy of v with every {"$ref": name} replaced by a copy
// of the named evaluator.
func resolveRefs(v any, evaluators map[string]any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalidf("nesting deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"]; ok {
			return lookupRef(t, ref, evaluators)
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := resolveRefs(e, evaluators, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := resolveRefs(e, evaluators, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// lookupRef resolves one {"$ref": name} object.
func lookupRef(m map[string]any, ref any, evaluators map[string]any) (any, error) {
	name, ok := ref.(string)
	if !ok || len(m) != 1 {
		return nil, invalidf(`"$ref" must be the only key and name an evaluator`)
	}
	rule, ok := evaluators[name]
	if !ok {
		return nil, invalidf("$ref to missing evaluator %q", name)
	}
	return resolveRefs(rule, nil, 0) // a copy; evaluators hold no $ref
}

// mergeMetadata overlays flag metadata on set metadata; nil if both are empty.
func mergeMetadata(set, own openfeature.FlagMetadata) openfeature.FlagMetadata {
	if len(set)+len(own) == 0 {
		return nil
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
