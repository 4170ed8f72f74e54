package featureflags

import (
	"errors"
	"reflect"
)

// Names of the lazy forms of JSONLogic's control operations.
//
// github.com/diegoholiveira/jsonlogic/v3 evaluates every argument of an
// operation before applying it, "if", "?:", "and" and "or" included, so an
// operation in a branch that is not taken still runs; one that cannot use
// its input (an operationError) would then make the whole rule null. flagd's
// conformance scenarios (flagd-testbed's custom-ops flags: an ends_with with
// a number, a sem_ver with "2.0.0.0", each in a branch that is not taken)
// and JSONLogic itself evaluate only the branch taken, and "and"/"or" only
// up to the value that decides. So each if, ?:, and, or whose arguments are
// a list is rewritten at load into its lazy form here, with every argument
// wrapped in a one-element array (which the library passes through without
// evaluating it); the lazy operation evaluates the arguments one at a time,
// as needed, and otherwise returns what the library's own operation returns
// for the same values.
const (
	opLazyIf      = "sshpool:if"
	opLazyTernary = "sshpool:?:"
	opLazyAnd     = "sshpool:and"
	opLazyOr      = "sshpool:or"
)

// lazyForms maps a control operation to its lazy form.
var lazyForms = map[string]string{"if": opLazyIf, "?:": opLazyTernary, "and": opLazyAnd, "or": opLazyOr}

// errLazyArguments is what a lazy operation raises where the library's own
// operation fails on its input (a type assertion or an index out of range,
// which the library recovers into the evaluation's error): PARSE_ERROR.
var errLazyArguments = errors.New("featureflags: control operation cannot use its arguments")

// lazify rewrites, in place where it can, every control operation of a rule
// that the library would evaluate (the rule itself, the arguments of an
// operation, the entries of a fractional split, the branches of an if) into
// its lazy form. Array literals that the library compares as data are left
// alone. The caller owns the rule.
func lazify(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		if list, ok := v.([]any); ok {
			lazifyMaps(list) // a top-level array: its rules are evaluated
		}
		return v
	}
	for op, args := range m {
		list, ok := args.([]any)
		if !ok {
			m[op] = lazify(args)
			return m
		}
		for i, a := range list {
			switch t := a.(type) {
			case map[string]any:
				list[i] = lazify(t)
			case []any:
				if op == opFractional || op == "if" && i%2 == 1 {
					lazifyMaps(t) // evaluated: a split's entry, an if's branch taken
				}
			}
		}
		lazy, ok := lazyForms[op]
		if !ok {
			return m
		}
		wrapped := make([]any, len(list))
		for i, a := range list {
			wrapped[i] = []any{a}
		}
		return map[string]any{lazy: wrapped}
	}
	return v
}

// lazifyMaps lazifies the rules (objects) of a list.
func lazifyMaps(list []any) {
	for i, e := range list {
		if m, ok := e.(map[string]any); ok {
			list[i] = lazify(m)
		}
	}
}

// lazyArgs unwraps a lazy operation's arguments.
func lazyArgs(values any) []any {
	wrapped, _ := values.([]any)
	args := make([]any, len(wrapped))
	for i, w := range wrapped {
		if one, ok := w.([]any); ok && len(one) == 1 {
			args[i] = one[0]
		}
	}
	return args
}

// lazyIf is "if": conditions in order, the branch of the first true one,
// else the last argument if their number is odd, else null.
func lazyIf(values, data any) any {
	args := lazyArgs(values)
	n := len(args)
	for i := 0; i+1 < n; i += 2 {
		c := evalNested(args[i], data)
		if _, isObject := c.(map[string]any); isObject {
			// The library looks an object condition up as a variable name:
			// null without data, else it fails.
			if data == nil {
				continue
			}
			panic(errLazyArguments)
		}
		if truthy(c) {
			return evalTaken(evalNested(args[i+1], data), data)
		}
	}
	if n%2 == 1 {
		return evalNested(args[n-1], data)
	}
	return nil
}

// evalTaken finishes the value of an if's branch taken as the library does:
// it evaluates it once more, so an object is applied as a rule and the
// rules in an array are evaluated.
func evalTaken(v, data any) any {
	switch t := v.(type) {
	case map[string]any:
		return evalNested(t, data)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = evalNested(e, data)
		}
		return out
	}
	return v
}

// lazyTernary is "?:": [condition, then, else] with a boolean condition;
// one argument is its truth.
func lazyTernary(values, data any) any {
	args := lazyArgs(values)
	switch len(args) {
	case 0:
		panic(errLazyArguments)
	case 1:
		return truthy(evalNested(args[0], data))
	}
	c, ok := evalNested(args[0], data).(bool)
	switch {
	case !ok:
		panic(errLazyArguments)
	case c:
		return evalNested(args[1], data)
	case len(args) < 3:
		panic(errLazyArguments)
	}
	return evalNested(args[2], data)
}

// lazyAnd is the library's "and", stopping at the value that decides: an
// array, false or "" is returned at once; other values that are not numbers
// are passed over; the result is then true if no number was seen, else the
// largest number (at least 0).
func lazyAnd(values, data any) any {
	var largest float64
	sawNumber := false
	for _, a := range lazyArgs(values) {
		v := evalNested(a, data)
		switch t := v.(type) {
		case bool:
			if !t {
				return false
			}
		case string:
			if t == "" {
				return t
			}
		case int:
			sawNumber, largest = true, max(largest, float64(t))
		case float64:
			sawNumber, largest = true, max(largest, t)
		default:
			if isKind(v, reflect.Slice) {
				return v
			}
		}
	}
	if !sawNumber {
		return true
	}
	return largest
}

// lazyOr is "or": the first truthy value, else false.
func lazyOr(values, data any) any {
	for _, a := range lazyArgs(values) {
		if v := evalNested(a, data); truthy(v) {
			return v
		}
	}
	return false
}

// truthy is JSONLogic's truth as the library judges it: false, 0, "", an
// empty array or object and null are false.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.String:
		return rv.Len() > 0
	case reflect.Bool:
		return rv.Bool()
	}
	return false
}

// isKind reports whether v's dynamic type is of kind k.
func isKind(v any, k reflect.Kind) bool { return v != nil && reflect.TypeOf(v).Kind() == k }
