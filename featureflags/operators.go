package featureflags

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"
)

// Names of the flagd custom operations added to JSONLogic.
const (
	opFractional = "fractional"
	opSemVer     = "sem_ver"
	opStartsWith = "starts_with"
	opEndsWith   = "ends_with"
)

// Keys of the data object a rule is evaluated against.
const (
	flagdKey          = "$flagd"
	flagdFlagKey      = "flagKey"
	flagdTimestampKey = "timestamp"
)

// maxFractionalWeight bounds the total weight of a fractional split, as flagd does.
const maxFractionalWeight = math.MaxInt32

// registerOnce guards the one registration of the custom operators.
var registerOnce sync.Once

// registerOperators adds the flagd custom operations to JSONLogic.
//
// github.com/diegoholiveira/jsonlogic/v3 (v3.5.1) has only a package-level
// operator registry (jsonlogic.AddOperator writes an unsynchronised global map
// that every evaluation reads). So the operators are registered exactly once,
// guarded by a sync.Once, before the first flag file is parsed, never from init.
// The operators are pure functions of their arguments and of the data object
// (flag key and targeting key travel in the data), so one registration serves
// every provider. Caveat: another package of the same binary that calls
// jsonlogic.AddOperator while flags are evaluated races with us, and one that
// registers the same names replaces our operators.
func registerOperators() {
	registerOnce.Do(func() {
		jsonlogic.AddOperator(opFractional, fractional)
		jsonlogic.AddOperator(opSemVer, semVer)
		jsonlogic.AddOperator(opStartsWith, startsWith)
		jsonlogic.AddOperator(opEndsWith, endsWith)
	})
}

// startsWith implements {"starts_with": [s, prefix]}: a bool for exactly two
// string arguments, null otherwise.
func startsWith(values, _ any) any {
	s, prefix, ok := twoStrings(values)
	if !ok {
		return nil
	}
	return strings.HasPrefix(s, prefix)
}

// endsWith implements {"ends_with": [s, suffix]}: a bool for exactly two string
// arguments, null otherwise.
func endsWith(values, _ any) any {
	s, suffix, ok := twoStrings(values)
	if !ok {
		return nil
	}
	return strings.HasSuffix(s, suffix)
}

// twoStrings unpacks an argument list of exactly two strings.
func twoStrings(values any) (string, string, bool) {
	args, ok := values.([]any)
	if !ok || len(args) != 2 {
		return "", "", false
	}
	a, ok1 := args[0].(string)
	b, ok2 := args[1].(string)
	return a, b, ok1 && ok2
}

// fractionalEntry is one [variant, weight] pair of a fractional split.
type fractionalEntry struct {
	variant any // a string (or bool) as written in the rule
	weight  uint64
}

// fractional implements flagd's sticky percentage split:
//
//	{"fractional": [ <optional bucketing expression>, [variant, weight], ... ]}
//
// The bucketing string is the first argument when it is a string, otherwise
// flagKey + targetingKey (null without a targeting key). A null first argument
// (a bucketing expression naming a missing attribute) falls back to the default
// bucketing string, as flagd does. hash is MurmurHash3 x86 32-bit, seed 0;
// bucket = hash*totalWeight >> 32; the first entry whose running weight sum
// exceeds bucket wins. Any malformed input yields null.
func fractional(values, data any) any {
	args, ok := values.([]any)
	if !ok {
		return nil
	}
	m, _ := data.(map[string]any)
	tk, _ := m[openfeature.TargetingKey].(string)
	flagd, _ := m[flagdKey].(map[string]any)
	fk, _ := flagd[flagdFlagKey].(string)
	return fractionalFor(args, fk, tk)
}

// fractionalFor evaluates fractional arguments (bucketing expression already
// evaluated) for a flag key and targeting key ("" when absent).
func fractionalFor(args []any, flagKey, targetingKey string) any {
	if len(args) == 0 {
		return nil
	}
	prefix, key, args, ok := bucketingKey(args, flagKey, targetingKey)
	if !ok || len(args) == 0 {
		return nil
	}
	total, ok := fractionalTotal(args)
	if !ok {
		return nil
	}
	return pickFractional(args, murmur3Concat(prefix, key), total)
}

// bucketingKey splits off the optional bucketing argument and returns the
// string to hash, as prefix+key, with the remaining [variant, weight]
// arguments.
func bucketingKey(args []any, flagKey, targetingKey string) (string, string, []any, bool) {
	switch first := args[0].(type) {
	case string:
		return "", first, args[1:], true
	case nil:
		args = args[1:]
	case []any:
	default:
		return "", "", nil, false
	}
	if targetingKey == "" {
		return "", "", nil, false
	}
	return flagKey, targetingKey, args, true
}

// fractionalTotal validates every entry and returns the total weight.
func fractionalTotal(args []any) (uint64, bool) {
	var total uint64
	for _, a := range args {
		e, ok := parseFractionalEntry(a)
		if !ok {
			return 0, false
		}
		total += e.weight
		if total > maxFractionalWeight {
			return 0, false
		}
	}
	return total, total > 0
}

// pickFractional walks the (already validated) entries to the winning variant.
func pickFractional(args []any, hash uint32, total uint64) any {
	bucket := (uint64(hash) * total) >> 32
	var sum uint64
	for _, a := range args {
		e, _ := parseFractionalEntry(a)
		sum += e.weight
		if sum > bucket {
			return e.variant
		}
	}
	return nil // unreachable: sum reaches total > bucket
}

// parseFractionalEntry reads [variant] or [variant, weight]. The weight is a
// non-negative integer no larger than maxFractionalWeight and defaults to 1.
func parseFractionalEntry(v any) (fractionalEntry, bool) {
	pair, ok := v.([]any)
	if !ok || len(pair) == 0 || len(pair) > 2 {
		return fractionalEntry{}, false
	}
	switch pair[0].(type) {
	case string, bool:
	default:
		return fractionalEntry{}, false
	}
	e := fractionalEntry{variant: pair[0], weight: 1}
	if len(pair) == 2 {
		w, ok := integerWeight(pair[1])
		if !ok {
			return fractionalEntry{}, false
		}
		e.weight = w
	}
	return e, true
}

// integerWeight accepts a whole number in [0, maxFractionalWeight].
func integerWeight(v any) (uint64, bool) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	default:
		return 0, false
	}
	if f < 0 || f > maxFractionalWeight || f != math.Trunc(f) {
		return 0, false
	}
	return uint64(f), true
}

// murmur3Concat hashes prefix+key without allocating for keys up to 128 bytes.
func murmur3Concat(prefix, key string) uint32 {
	var buf [128]byte
	return murmur3(append(append(buf[:0], prefix...), key...))
}

// murmur3 is MurmurHash3 x86 32-bit with seed 0 over s,
// reading blocks little-endian as the reference implementation does on x86.
//
// It is written here rather than taken from github.com/spaolacci/murmur3: that
// package's Sum32 walks the input with uintptr arithmetic, which the race
// detector's checkptr instrumentation rejects as a fatal error (found by
// TestFractionalMatchesReference under -race), and reads blocks in native byte
// order. This version is byte-order independent; tests check it against published vectors and an independent
// implementation.
func murmur3(s []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(s) &^ 3
	for i := 0; i < n; i += 4 {
		k := uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
		h ^= bits.RotateLeft32(k*c1, 15) * c2
		h = bits.RotateLeft32(h, 13)*5 + 0xe6546b64
	}
	var k uint32
	switch len(s) - n {
	case 3:
		k = uint32(s[n+2]) << 16
		fallthrough
	case 2:
		k |= uint32(s[n+1]) << 8
		fallthrough
	case 1:
		k |= uint32(s[n])
		h ^= bits.RotateLeft32(k*c1, 15) * c2
	}
	h ^= uint32(len(s))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h ^ h>>16
}

// semVer implements {"sem_ver": [version, op, version]} with op one of
// = != < <= > >= ^ (same major) ~ (same major and minor). A leading "v" is
// accepted; any invalid input yields null.
func semVer(values, _ any) any {
	args, ok := values.([]any)
	if !ok || len(args) != 3 {
		return nil
	}
	a, ok1 := args[0].(string)
	op, ok2 := args[1].(string)
	b, ok3 := args[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	va, okA := parseSemver(a)
	vb, okB := parseSemver(b)
	if !okA || !okB {
		return nil
	}
	return compareSemverOp(va, op, vb)
}

// compareSemverOp applies op to two parsed versions; an unknown op yields null.
func compareSemverOp(a semver, op string, b semver) any {
	switch op {
	case "=":
		return a.compare(b) == 0
	case "!=":
		return a.compare(b) != 0
	case "<":
		return a.compare(b) < 0
	case "<=":
		return a.compare(b) <= 0
	case ">":
		return a.compare(b) > 0
	case ">=":
		return a.compare(b) >= 0
	case "^":
		return a.major == b.major
	case "~":
		return a.major == b.major && a.minor == b.minor
	}
	return nil
}

// isSemverOp reports whether op is a sem_ver comparison.
func isSemverOp(op string) bool {
	return compareSemverOp(semver{}, op, semver{}) != nil
}

// semver is a parsed semantic version. Numbers are kept as decimal strings
// without leading zeros so that arbitrarily large components compare correctly.
type semver struct {
	major, minor, patch string
	pre                 string // dot-separated pre-release identifiers, "" if none
}

// parseSemver parses [v]MAJOR[.MINOR[.PATCH]][-PRE][+BUILD] per SemVer 2.0.0,
// accepting the MAJOR and MAJOR.MINOR shorthands (as golang.org/x/mod/semver
// does, without pre-release or build) with the missing parts zero.
func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if !validIdents(s[i+1:], false) {
			return semver{}, false
		}
		s = s[:i]
	}
	var v semver
	if i := strings.IndexByte(s, '-'); i >= 0 {
		v.pre = s[i+1:]
		if !validIdents(v.pre, true) {
			return semver{}, false
		}
		s = s[:i]
	}
	parts := strings.SplitN(s, ".", 4)
	if len(parts) > 3 || (len(parts) < 3 && v.pre != "") {
		return semver{}, false
	}
	nums := [3]string{"0", "0", "0"}
	for i, p := range parts {
		if !isNumericIdent(p) {
			return semver{}, false
		}
		nums[i] = p
	}
	v.major, v.minor, v.patch = nums[0], nums[1], nums[2]
	return v, true
}

// validIdents checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// identifiers of a pre-release may not have leading zeros.
func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	for id := range strings.SplitSeq(s, ".") {
		if id == "" || !alnumHyphen(id) {
			return false
		}
		if pre && allDigits(id) && !isNumericIdent(id) {
			return false
		}
	}
	return true
}

// isNumericIdent reports a non-empty decimal without leading zeros.
func isNumericIdent(s string) bool {
	return s != "" && allDigits(s) && (s == "0" || s[0] != '0')
}

// allDigits reports whether s consists of ASCII digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// alnumHyphen reports whether s consists of [0-9A-Za-z-] only.
func alnumHyphen(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// compare orders versions by SemVer precedence (build metadata ignored).
func (a semver) compare(b semver) int {
	if c := compareNum(a.major, b.major); c != 0 {
		return c
	}
	if c := compareNum(a.minor, b.minor); c != 0 {
		return c
	}
	if c := compareNum(a.patch, b.patch); c != 0 {
		return c
	}
	return comparePre(a.pre, b.pre)
}

// compareNum compares decimal strings without leading zeros.
func compareNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// comparePre compares pre-release strings: none ranks above any; identifiers
// compare numerically when both are numeric, numeric ranks below alphanumeric,
// otherwise ASCII order; a shorter list that is a prefix ranks lower.
func comparePre(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := compareIdent(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

// compareIdent compares two pre-release identifiers.
func compareIdent(a, b string) int {
	an, bn := allDigits(a), allDigits(b)
	switch {
	case an && bn:
		return compareNum(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// isStandardOperator reports the operators that jsonlogic/v3 implements.
func isStandardOperator(op string) bool {
	switch op {
	case "==", "===", "!=", "!==", ">", ">=", "<", "<=", "!", "!!", "or", "and",
		"?:", "if", "in", "in_sorted", "cat", "substr", "%", "abs", "max", "min",
		"+", "-", "*", "/", "merge", "missing", "missing_some", "some", "filter",
		"map", "reduce", "all", "none", "var":
		return true
	}
	return false
}

// validateRule checks a targeting rule at load time so that a broken rule
// rejects the whole file: every object is {operator: args} with a known
// operator, and the custom operations get well-formed literal arguments. f is
// the flag the rule belongs to (nil for a shared evaluator); when fractional is
// the whole rule its variants must be variants of f.
func validateRule(v any, f *flag, depth int) error {
	if depth > maxDepth {
		return invalidf("rule nested deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if err := validateRule(e, f, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		return validateOperation(t, f, depth)
	}
	return nil
}

// validateOperation checks one {operator: args} object.
func validateOperation(m map[string]any, f *flag, depth int) error {
	if len(m) != 1 {
		return invalidf("a rule object must have exactly one operator, got %d keys", len(m))
	}
	for op, args := range m {
		if err := validateArgs(op, args, f, depth); err != nil {
			return err
		}
		return validateRule(args, f, depth+1)
	}
	return nil
}

// validateArgs checks the shape of the arguments of op.
func validateArgs(op string, args any, f *flag, depth int) error {
	switch op {
	case opStartsWith, opEndsWith:
		return validateOperands(op, args, 2)
	case opSemVer:
		return validateSemVerArgs(args)
	case opFractional:
		return validateFractionalArgs(args, f, depth)
	case "var":
		return validateVarArgs(args)
	case "$ref":
		return invalidf("$ref may not be used inside an evaluator")
	}
	if !isStandardOperator(op) {
		return invalidf("unknown operator %q", op)
	}
	return nil
}

// validateOperands requires n arguments, each a string or a rule.
func validateOperands(op string, args any, n int) error {
	list, ok := args.([]any)
	if !ok || len(list) != n {
		return invalidf("%s takes %d arguments", op, n)
	}
	for _, a := range list {
		switch a.(type) {
		case string, map[string]any:
		default:
			return invalidf("%s arguments must be strings or rules", op)
		}
	}
	return nil
}

// validateSemVerArgs requires [version, op, version] with a known literal op.
func validateSemVerArgs(args any) error {
	if err := validateOperands(opSemVer, args, 3); err != nil {
		return err
	}
	if op, ok := args.([]any)[1].(string); ok && !isSemverOp(op) {
		return invalidf("sem_ver: unknown comparison %q", op)
	}
	return nil
}

// validateVarArgs accepts "name", a number, null, [] , [name] or [name, default].
func validateVarArgs(args any) error {
	switch t := args.(type) {
	case nil, string, float64, map[string]any:
		return nil
	case []any:
		if len(t) == 0 {
			return nil
		}
		if _, ok := t[0].(string); ok && len(t) <= 2 {
			return nil
		}
	}
	return invalidf(`var takes a name, [name] or [name, default]`)
}

// validateFractionalArgs checks [bucketing?, [variant, weight]...]. The entries
// are literals (JSONLogic does not evaluate arrays nested in arguments).
func validateFractionalArgs(args any, f *flag, depth int) error {
	list, ok := args.([]any)
	if !ok || len(list) == 0 {
		return invalidf("fractional takes [bucketing expression?, [variant, weight]...]")
	}
	switch list[0].(type) {
	case string, map[string]any:
		list = list[1:]
	}
	if len(list) == 0 {
		return invalidf("fractional needs at least one [variant, weight] entry")
	}
	if _, ok := fractionalTotal(list); !ok {
		return invalidf("fractional entries must be [variant] or [variant, weight] with whole weights totalling 1..%d", maxFractionalWeight)
	}
	if f != nil && depth == 0 {
		return checkFractionalVariants(list, f)
	}
	return nil
}

// checkFractionalVariants requires every outcome of a top-level fractional to
// name a variant of f.
func checkFractionalVariants(entries []any, f *flag) error {
	for _, e := range entries {
		pe, _ := parseFractionalEntry(e)
		name := fmt.Sprint(pe.variant)
		if _, ok := f.variants[name]; !ok {
			return invalidf("fractional variant %q is not a variant", name)
		}
	}
	return nil
}
