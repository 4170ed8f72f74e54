package featureflags

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// Kind classifies a [Problem] found in a flag document.
type Kind uint8

// The kinds, from worst to mildest.
const (
	// Structural problems refuse the whole document (the previous flags
	// stay in force): not JSON or YAML, no "flags" object, a flag without
	// state or variants, an unknown state, variants of mixed types, a
	// defaultVariant that is not a variant, a flag key with a control
	// character.
	Structural Kind = iota + 1
	// RuleError is a mistake inside a targeting rule. The document loads
	// and the flag evaluates as flagd evaluates it: the default variant
	// (reason DEFAULT), a PARSE_ERROR or GENERAL error with the caller's
	// default — never what the author meant. Loading a document with a rule
	// error into a flag is logged and counted per flag.
	RuleError
	// Advice is something that loads and evaluates as written but is
	// probably not what was meant: a missing defaultVariant, an ignored key,
	// a split that does not add up to 100, the router's flags missing.
	Advice
)

// String returns "structural", "rule" or "advice".
func (k Kind) String() string {
	switch k {
	case Structural:
		return "structural"
	case RuleError:
		return "rule"
	case Advice:
		return "advice"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText returns the kind's name, for JSON reports.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Problem is one problem found in a flag document.
type Problem struct {
	// Kind says whether it refuses the document (Structural) or not.
	Kind Kind `json:"kind"`
	// Flag is the flag key, "" for a problem outside any flag.
	Flag string `json:"flag,omitempty"`
	// Pointer locates the offending value as a JSON Pointer (RFC 6901),
	// e.g. "/flags/use-new-pool/targeting/if/0".
	Pointer string `json:"pointer"`
	// Line and Column locate it in the document (1-based, columns in
	// bytes); zero when unknown. [Lint] fills them in.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Message says what is wrong; echoed input is cut short.
	Message string `json:"message"`
	// Effect says what flagd does with it at evaluation time ("" for a
	// structural problem: the document is refused).
	Effect string `json:"effect,omitempty"`

	path []string // Pointer's segments, for positions
}

// Severity is "error" for a structural problem, else "warning".
func (p Problem) Severity() string {
	if p.Kind == Structural {
		return "error"
	}
	return "warning"
}

// String formats the problem without its position:
// `warning: flag "f": message; flagd: effect`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Severity())
	b.WriteString(": ")
	if p.Flag != "" {
		b.WriteString("flag ")
		b.WriteString(quote(p.Flag))
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Effect != "" {
		b.WriteString("; flagd: ")
		b.WriteString(p.Effect)
	}
	return b.String()
}

// DocumentError refuses a flag document: its structural problems (at least
// one). It wraps [ErrInvalidFlagFile].
type DocumentError struct {
	// Origin names the document (a path, an etcd key).
	Origin string
	// Problems are the structural problems, in document order.
	Problems []Problem
}

// Error names the origin and the first problem, and counts the others.
func (e *DocumentError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidFlagFile.Error())
	b.WriteString(": ")
	if e.Origin != "" {
		b.WriteString(e.Origin)
		if p := e.Problems[0]; p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
	}
	p := e.Problems[0]
	if p.Flag != "" {
		b.WriteString("flag ")
		b.WriteString(quote(p.Flag))
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if n := len(e.Problems) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more)", n)
	}
	return b.String()
}

// Unwrap returns ErrInvalidFlagFile.
func (e *DocumentError) Unwrap() error { return ErrInvalidFlagFile }

// quote quotes outside input for a message, cut to a short prefix.
func quote(s string) string { return inputfile.Excerpt(s, 0) }

// pointer renders path segments as a JSON Pointer.
func pointer(path []string) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, seg := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(seg))
	}
	return b.String()
}

// problems collects the problems of one document.
type problems struct {
	list []Problem
}

// add records a problem at path (copied).
func (ps *problems) add(kind Kind, flag string, path []string, effect, format string, args ...any) {
	p := append([]string(nil), path...)
	ps.list = append(ps.list, Problem{Kind: kind, Flag: flag, Pointer: pointer(p), path: p,
		Message: fmt.Sprintf(format, args...), Effect: effect})
}

// dropAdviceFrom removes the non-structural problems recorded from index i.
func (ps *problems) dropAdviceFrom(i int) {
	kept := ps.list[:i]
	for _, p := range ps.list[i:] {
		if p.Kind == Structural {
			kept = append(kept, p)
		}
	}
	ps.list = kept
}

// structural reports whether any problem refuses the document.
func (ps *problems) structural() bool {
	for _, p := range ps.list {
		if p.Kind == Structural {
			return true
		}
	}
	return false
}

// documentError returns the structural problems as a *DocumentError.
func (ps *problems) documentError(origin string) *DocumentError {
	e := &DocumentError{Origin: origin}
	for _, p := range ps.list {
		if p.Kind == Structural {
			e.Problems = append(e.Problems, p)
		}
	}
	return e
}
