package featureflags

import (
	"strings"
	"sync"

	"github.com/diegoholiveira/jsonlogic/v3"
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

// operationError is what a custom operation raises when its input is
// unusable: wrong arguments, a value that is not a version, a split with no
// weight. JSONLogic gives a custom operation no error result, so it is
// raised as a panic, which the library recovers into the error of the whole
// evaluation; the flag then resolves as flagd resolves it, to its default
// variant with reason DEFAULT (evaluate), however deep the operation sits
// in the rule (flagd-testbed's "operator-errors" scenarios).
type operationError struct{ op string }

// Error names the operation.
func (e *operationError) Error() string { return "featureflags: " + e.op + ": unusable arguments" }

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
// string arguments; anything else is an operationError.
func startsWith(values, _ any) any {
	s, prefix, ok := twoStrings(values)
	if !ok {
		panic(&operationError{op: opStartsWith})
	}
	return strings.HasPrefix(s, prefix)
}

// endsWith implements {"ends_with": [s, suffix]}: a bool for exactly two
// string arguments; anything else is an operationError.
func endsWith(values, _ any) any {
	s, suffix, ok := twoStrings(values)
	if !ok {
		panic(&operationError{op: opEndsWith})
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

// isStandardOperator reports the operators that jsonlogic/v3 implements.
func isStandardOperator(op string) bool {
	switch op {
	case "==", "===", "!=", "!==", ">", ">=", "<", "<=", "!", "!!", "or", "and",
		"?:", "if", "in", "in_sorted", "cat", "substr", "%", "abs", "max", "min",
		"+", "-", "*", "/", "merge", "missing", "missing_some", "some", "filter",
		"map", "reduce", "all", "none", "var", "set":
		return true
	}
	return false
}
