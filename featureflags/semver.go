package featureflags

import (
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// semVer implements {"sem_ver": [version, op, version]} with op one of
// = != < <= > >= ^ (same major) ~ (same major and minor), comparing with
// golang.org/x/mod/semver as flagd does. Each version is coerced first (see
// semverString); an unparseable version, an unknown op or a wrong number of
// arguments is an operationError.
func semVer(values, _ any) any {
	if r := semVerValue(values); r != nil {
		return r
	}
	panic(&operationError{op: opSemVer})
}

// semVerValue is sem_ver's result, nil for unusable input.
func semVerValue(values any) any {
	args, ok := values.([]any)
	if !ok || len(args) != 3 {
		return nil
	}
	a, okA := semverString(args[0])
	op, okOp := args[1].(string)
	b, okB := semverString(args[2])
	if !okA || !okOp || !okB {
		return nil
	}
	return compareSemver(a, op, b)
}

// semverString coerces a sem_ver operand to the "vMAJOR[.MINOR[.PATCH]]..."
// form x/mod/semver parses: a string loses one leading "v" or "V"; a number
// (1, 1.2, as the evaluation context may hold a version) becomes its decimal
// text, so 1 is v1 (= v1.0.0) and 1.2 is v1.2 (= v1.2.0). ok is false for
// anything that is then not a valid semantic version.
func semverString(v any) (string, bool) {
	var s string
	switch t := v.(type) {
	case string:
		s = strings.TrimPrefix(strings.TrimPrefix(t, "v"), "V")
		if len(s) < len(t)-1 {
			return "", false // "vv1.0.0"
		}
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		s = strconv.Itoa(t)
	default:
		return "", false
	}
	s = "v" + s
	return s, semver.IsValid(s)
}

// compareSemver applies op to two valid versions; an unknown op yields null.
func compareSemver(a, op, b string) any {
	switch op {
	case "=":
		return semver.Compare(a, b) == 0
	case "!=":
		return semver.Compare(a, b) != 0
	case "<":
		return semver.Compare(a, b) < 0
	case "<=":
		return semver.Compare(a, b) <= 0
	case ">":
		return semver.Compare(a, b) > 0
	case ">=":
		return semver.Compare(a, b) >= 0
	case "^":
		return semver.Major(a) == semver.Major(b)
	case "~":
		return semver.MajorMinor(a) == semver.MajorMinor(b)
	}
	return nil
}

// isSemverOp reports whether op is a sem_ver comparison.
func isSemverOp(op string) bool { return compareSemver("v1", op, "v1") != nil }
