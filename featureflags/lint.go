package featureflags

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Report is what [Lint] finds in a flag document.
type Report struct {
	// Origin names the document, as given to Lint.
	Origin string `json:"origin"`
	// Flags are the keys of the flags that load, sorted; nil (and absent
	// from JSON) when the document is refused.
	Flags []string `json:"flags,omitempty"`
	// Problems are every problem found, in document order.
	Problems []Problem `json:"problems"`
}

// MarshalJSON adds to the report's fields "refused", "errors" and
// "warnings" (counts).
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	errs := r.Count(Structural)
	return json.Marshal(struct {
		plain
		Refused  bool `json:"refused"`
		Errors   int  `json:"errors"`
		Warnings int  `json:"warnings"`
	}{plain(r), errs > 0, errs, len(r.Problems) - errs})
}

// Refused reports whether the document has a structural problem: a provider
// refuses it and keeps its previous flags.
func (r Report) Refused() bool { return r.Count(Structural) > 0 }

// Count returns how many problems are of kind k.
func (r Report) Count(k Kind) int {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}

// Write prints one line per problem, `origin:line:col: severity: flag "f":
// message; flagd: effect`, then a summary line.
func (r Report) Write(w io.Writer) error {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintf(w, "%s:%d:%d: %s\n", r.Origin, p.Line, p.Column, p); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// Summary is one line: whether the document loads, with how many flags,
// errors and warnings.
func (r Report) Summary() string {
	errs := r.Count(Structural)
	warns := len(r.Problems) - errs
	if errs > 0 {
		return fmt.Sprintf("%s: refused: %d errors, %d warnings; a provider keeps its previous flags", r.Origin, errs, warns)
	}
	return fmt.Sprintf("%s: loads %d flags, %d warnings", r.Origin, len(r.Flags), warns)
}

// Lint reports every problem of a flag document at once, each located by
// line and column and saying what flagd does with it: structural problems
// (the document is refused), mistakes in rules (the document loads and the
// flag evaluates as flagd evaluates it, which is not what was meant), and
// advice for sshpool's router:
//   - [FlagKillSwitch] and [FlagUseNewPool] should be defined and boolean;
//   - the default variant of use-new-pool must not be true (the new pool):
//     it is what every server gets when the rule evaluates to null, which is
//     also what most mistakes in a rule do; make it false, the legacy side.
//
// origin names the document in the report and, by its extension, selects
// the syntax as [ValidateFlagFile] does.
func Lint(origin string, data []byte) Report {
	return LintDocument(Document{Data: data, Origin: origin})
}

// LintDocument is Lint for a document as a source delivers it.
func LintDocument(doc Document) Report {
	set, ps := parseFlagSet(doc.Origin, doc.Format, doc.Data)
	r := Report{Origin: doc.Origin}
	if !ps.structural() {
		r.Flags = set.keys()
		routerAdvice(set, ps)
	}
	idx := indexPositions(doc.Origin, doc.Format, doc.Data)
	for _, p := range ps.list {
		if p.Line == 0 {
			pos := idx.at(p.path)
			p.Line, p.Column = pos.line, pos.col
		}
		r.Problems = append(r.Problems, p)
	}
	sort.SliceStable(r.Problems, func(i, j int) bool {
		a, b := r.Problems[i], r.Problems[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return r
}

// routerAdvice checks the flags the migration router evaluates.
func routerAdvice(set *flagSet, ps *problems) {
	for _, key := range []string{FlagKillSwitch, FlagUseNewPool} {
		f := set.flags[key]
		path := []string{"flags", key}
		switch {
		case f == nil:
			ps.add(Advice, key, []string{"flags"}, "the router gets FLAG_NOT_FOUND and routes every call to legacy",
				"%s is not defined", quote(key))
		case f.kind != kindBool:
			ps.add(Advice, key, append(path, "variants"), "the router gets TYPE_MISMATCH and routes every call to legacy",
				"%s has %s variants, want boolean", quote(key), f.kind)
		}
	}
	f := set.flags[FlagUseNewPool]
	if f == nil || f.kind != kindBool || f.disabled {
		return
	}
	if f.hasDefault && f.variants[f.defaultVariant] == true {
		ps.add(Advice, FlagUseNewPool, []string{"flags", FlagUseNewPool, "defaultVariant"},
			"any rule that evaluates to null, or a mistake in the rule, sends servers to the new pool; make the default the legacy side (false)",
			"DANGER: defaultVariant %s is true, the new pool", quote(f.defaultVariant))
	}
}
