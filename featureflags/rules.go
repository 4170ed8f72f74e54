package featureflags

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// evaluator is one entry of a document's $evaluators, analysed once.
type evaluator struct {
	rule       any
	parseErr   string // non-empty: flags using it resolve with PARSE_ERROR
	ruleErrors int    // RuleError problems found in it
	firstError string // message of the first of them
}

// ruleCheck carries what the analysis of one rule needs and finds.
type ruleCheck struct {
	ps         *problems
	flag       *flag                 // the flag analysed; nil inside an evaluator
	evaluators map[string]*evaluator // nil inside an evaluator
	parseErr   string                // first reason flagd cannot run the rule
	ruleErrors int
	firstError string // message of the first RuleError found
}

// Effects, as Problem.Effect, of the mistakes a rule can contain.
const (
	effectParseError = "the flag resolves with PARSE_ERROR and the caller's default"
	effectLiteral    = "treats the object as a value, not a rule"
	effectNotEval    = "does not evaluate it: the rule is compared as data"
)

// parseEvaluators reads the shared $evaluators and analyses each rule.
func parseEvaluators(v any, ps *problems) map[string]*evaluator {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(Structural, "", []string{"$evaluators"}, "", `"$evaluators" must be an object`)
		return nil
	}
	out := make(map[string]*evaluator, len(m))
	for _, name := range sortedKeys(m) {
		path := []string{"$evaluators", name}
		if _, ok := m[name].(map[string]any); !ok {
			ps.add(Structural, "", path, "", "evaluator %s must be a rule object", quote(name))
			continue
		}
		c := &ruleCheck{ps: ps}
		c.rule(m[name], path, 0)
		out[name] = &evaluator{rule: m[name], parseErr: c.parseErr, ruleErrors: c.ruleErrors, firstError: c.firstError}
	}
	return out
}

// parseTargeting analyses the flag's rule and resolves its $refs. Absent,
// null and {} mean no targeting.
func (f *flag) parseTargeting(v any, evaluators map[string]*evaluator, path []string, ps *problems) {
	if m, ok := v.(map[string]any); v == nil || ok && len(m) == 0 {
		return
	}
	c := &ruleCheck{ps: ps, flag: f, evaluators: evaluators}
	if _, ok := v.(map[string]any); !ok {
		c.ps.add(Advice, f.key, path, fmt.Sprintf("evaluates it as a value: every evaluation yields %s", describe(v)),
			"targeting is %s, not a rule object", describe(v))
	}
	c.rule(v, path, 0)
	c.results(v, path)
	f.parseErr, f.ruleErrors, f.ruleIssue = c.parseErr, c.ruleErrors, c.firstError
	f.targeting, f.hasTargeting = resolveRefs(v, evaluators), true
	if mentionsFlagd(f.targeting) {
		f.flagd = map[string]any{flagdFlagKey: f.key}
	}
	f.needsTime = mentionsTimestamp(f.targeting)
	f.fractional = literalFractional(f.targeting)
}

// ruleError records a RuleError problem.
func (c *ruleCheck) ruleError(path []string, effect, format string, args ...any) {
	c.ruleErrors++
	c.ps.add(RuleError, c.flagKey(), path, effect, format, args...)
	if c.firstError == "" {
		c.firstError = c.ps.list[len(c.ps.list)-1].Message
	}
}

// unrunnable records a mistake that keeps flagd from running the rule.
func (c *ruleCheck) unrunnable(path []string, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.parseErr == "" {
		c.parseErr = fmt.Sprintf("flag %s: %s", quote(c.flagKey()), msg)
	}
	c.ruleError(path, effectParseError, "%s", msg)
}

func (c *ruleCheck) flagKey() string {
	if c.flag == nil {
		return ""
	}
	return c.flag.key
}

// effectNull is the effect of a custom operation that cannot use its input.
func (c *ruleCheck) effectNull() string {
	if c.flag == nil || !c.flag.hasDefault {
		return "the rule evaluates to null: the caller's default (reason DEFAULT)"
	}
	return fmt.Sprintf("the rule evaluates to null: default variant %s (reason DEFAULT)", quote(c.flag.defaultVariant))
}

// rule analyses one expression.
func (c *ruleCheck) rule(v any, path []string, depth int) {
	if depth > maxDepth {
		return // decoding bounds the depth; this only guards the recursion
	}
	switch t := v.(type) {
	case []any:
		for i, e := range t {
			c.rule(e, append(path, strconv.Itoa(i)), depth+1)
		}
	case map[string]any:
		if len(t) != 1 {
			c.ruleError(path, effectLiteral, "an object with %d keys is not a rule (a rule has exactly one operator)", len(t))
			return
		}
		for op, args := range t {
			c.operation(op, args, append(path, op), depth)
		}
	}
}

// operation analyses {op: args}.
func (c *ruleCheck) operation(op string, args any, path []string, depth int) {
	switch op {
	case "$ref":
		c.ref(args, path)
		return
	case opStartsWith, opEndsWith:
		c.stringOperands(op, args, path)
	case opSemVer:
		c.semVerArgs(args, path)
	case opFractional:
		c.fractionalArgs(args, path, depth)
		return
	case "var":
		c.varArgs(args, path)
	default:
		if !isStandardOperator(op) {
			c.unrunnable(path, "unknown operator %s", quote(op))
			return
		}
	}
	c.operands(args, path, depth)
}

// operands analyses an operation's arguments: rules among them are
// evaluated, rules inside nested array literals are not.
func (c *ruleCheck) operands(args any, path []string, depth int) {
	list, ok := args.([]any)
	if !ok {
		c.rule(args, path, depth+1)
		return
	}
	for i, a := range list {
		p := append(path, strconv.Itoa(i))
		if inner, ok := a.([]any); ok && hasRule(inner) {
			c.ps.add(Advice, c.flagKey(), p, effectNotEval, "a rule inside an array literal is not evaluated")
			continue
		}
		c.rule(a, p, depth+1)
	}
}

// hasRule reports whether a list holds an object.
func hasRule(list []any) bool {
	for _, e := range list {
		if _, ok := e.(map[string]any); ok {
			return true
		}
	}
	return false
}

// ref checks {"$ref": name}.
func (c *ruleCheck) ref(args any, path []string) {
	name, ok := args.(string)
	switch {
	case c.evaluators == nil && c.flag == nil:
		c.unrunnable(path, "$ref inside an evaluator (evaluators cannot reference evaluators)")
	case !ok:
		c.unrunnable(path, `"$ref" must name an evaluator, got %s`, describe(args))
	case c.evaluators[name] == nil:
		c.unrunnable(path, "$ref to missing evaluator %s", quote(name))
	default:
		e := c.evaluators[name]
		if e.parseErr != "" && c.parseErr == "" {
			c.parseErr = fmt.Sprintf("flag %s: evaluator %s: %s", quote(c.flagKey()), quote(name), e.parseErr)
		}
		c.ruleErrors += e.ruleErrors
		if c.firstError == "" && e.firstError != "" {
			c.firstError = "evaluator " + quote(name) + ": " + e.firstError
		}
	}
}

// stringOperands checks starts_with/ends_with: two operands, each a string
// or a rule.
func (c *ruleCheck) stringOperands(op string, args any, path []string) {
	list, ok := args.([]any)
	if !ok || len(list) != 2 {
		c.ruleError(path, c.effectNull(), "%s takes 2 arguments, got %s", op, countArgs(args))
		return
	}
	for i, a := range list {
		switch a.(type) {
		case string, map[string]any:
		default:
			c.ruleError(append(path, strconv.Itoa(i)), c.effectNull(), "%s takes strings, got %s", op, describe(a))
		}
	}
}

// semVerArgs checks [version, op, version].
func (c *ruleCheck) semVerArgs(args any, path []string) {
	list, ok := args.([]any)
	if !ok || len(list) != 3 {
		c.ruleError(path, c.effectNull(), "sem_ver takes 3 arguments [version, operator, version], got %s", countArgs(args))
		return
	}
	for _, i := range []int{0, 2} {
		switch a := list[i].(type) {
		case map[string]any:
		default:
			if _, ok := semverString(a); !ok {
				c.ruleError(append(path, strconv.Itoa(i)), c.effectNull(), "sem_ver: %s is not a semantic version", describe(a))
			}
		}
	}
	switch op := list[1].(type) {
	case map[string]any:
	case string:
		if !isSemverOp(op) {
			c.ruleError(append(path, "1"), c.effectNull(), "sem_ver: unknown comparison %s (want =, !=, <, <=, >, >=, ^ or ~)", quote(op))
		}
	default:
		c.ruleError(append(path, "1"), c.effectNull(), "sem_ver: the comparison must be a string, got %s", describe(op))
	}
}

// varArgs accepts "name", a number, null, [], [name] or [name, default].
func (c *ruleCheck) varArgs(args any, path []string) {
	switch t := args.(type) {
	case nil, string, float64, map[string]any:
		return
	case []any:
		if len(t) == 0 {
			return
		}
		if _, ok := t[0].(string); ok && len(t) <= 2 {
			return
		}
	}
	c.ruleError(path, "the rule may fail: PARSE_ERROR and the caller's default", "var takes a name, [name] or [name, default], got %s", describe(args))
}

// countArgs describes an argument list's length.
func countArgs(args any) string {
	if list, ok := args.([]any); ok {
		return strconv.Itoa(len(list))
	}
	return describe(args)
}

// fractionalArgs checks [bucketing?, [variant, weight]...]. Variant names
// and weights may be rules, evaluated per call.
func (c *ruleCheck) fractionalArgs(args any, path []string, depth int) {
	list, ok := args.([]any)
	if !ok || len(list) == 0 {
		c.ruleError(path, c.effectNull(), "fractional takes [bucketing expression?, [variant, weight]...], got %s", describe(args))
		return
	}
	start := 0
	switch first := list[0].(type) {
	case map[string]any:
		c.rule(first, append(path, "0"), depth+1)
		start = 1
	case string, nil:
		start = 1
	case []any:
	default:
		c.ruleError(append(path, "0"), c.effectNull(), "fractional: the bucketing value must be a string or a rule, got %s", describe(first))
		return
	}
	if start == len(list) {
		c.ruleError(path, c.effectNull(), "fractional needs at least one [variant, weight] entry")
		return
	}
	weights := make([]float64, 0, len(list)-start)
	for i := start; i < len(list); i++ {
		w, ok := c.fractionalEntry(list[i], append(path, strconv.Itoa(i)), depth)
		if ok {
			weights = append(weights, w)
		}
	}
	if len(weights) == len(list)-start {
		c.weightTotal(weights, path)
	}
}

// fractionalEntry checks one [variant, weight] entry and returns its
// literal weight (ok false when it has none: a rule, or a mistake).
func (c *ruleCheck) fractionalEntry(e any, path []string, depth int) (float64, bool) {
	pair, ok := e.([]any)
	if !ok || len(pair) == 0 || len(pair) > 2 {
		c.ruleError(path, c.effectNull(), "a fractional entry must be [variant] or [variant, weight], got %s", describe(e))
		return 0, false
	}
	switch v := pair[0].(type) {
	case map[string]any:
		c.rule(v, append(path, "0"), depth+2)
	case string, bool, float64, nil:
	default:
		c.ruleError(append(path, "0"), c.effectNull(), "a fractional variant must be a string, boolean, number, null or rule, got %s", describe(v))
	}
	if len(pair) == 1 {
		return 1, true
	}
	switch w := pair[1].(type) {
	case map[string]any:
		c.rule(w, append(path, "1"), depth+2)
		return 0, false
	case nil:
		return 1, true
	case float64:
		switch {
		case w != math.Trunc(w) || w > maxFractionalWeight:
			c.ruleError(append(path, "1"), c.effectNull(), "a fractional weight must be a whole number up to %d, got %v", maxFractionalWeight, w)
			return 0, false
		case w < 0:
			c.ps.add(Advice, c.flagKey(), append(path, "1"), "counts it as 0", "negative fractional weight %v", w)
			return 0, true
		}
		return w, true
	default:
		c.ruleError(append(path, "1"), c.effectNull(), "a fractional weight must be a number, got %s", describe(w))
		return 0, false
	}
}

// weightTotal checks the literal weights of a split.
func (c *ruleCheck) weightTotal(weights []float64, path []string) {
	var total float64
	percent := true
	for _, w := range weights {
		total += w
		percent = percent && w <= 100
	}
	switch {
	case total == 0:
		c.ruleError(path, c.effectNull(), "every fractional weight is 0")
	case total > maxFractionalWeight:
		c.ruleError(path, c.effectNull(), "fractional weights total %v, more than %d", total, maxFractionalWeight)
	case percent && len(weights) > 1 && total != 100 && total >= 50 && total <= 150:
		c.ps.add(Advice, c.flagKey(), path, "splits by relative weight: each entry gets weight/"+strconv.FormatFloat(total, 'f', -1, 64),
			"fractional weights total %v, not 100", total)
	}
}

// results checks the literal values a rule can return (the rule itself, if
// branches, fractional variants): each must name a variant of the flag.
func (c *ruleCheck) results(v any, path []string) {
	switch t := v.(type) {
	case nil:
	case map[string]any:
		if len(t) != 1 {
			return
		}
		for op, args := range t {
			c.resultsOf(op, args, append(path, op))
		}
	default:
		name, ok := variantName(t)
		if !ok {
			c.ruleError(path, "the flag resolves with GENERAL and the caller's default", "the rule returns %s, not a variant name", describe(t))
			return
		}
		if _, ok := c.flag.variants[name]; !ok {
			c.ruleError(path, "the flag resolves with GENERAL and the caller's default",
				"the rule returns %s, which is not a variant (variants: %s)", quote(name), variantList(c.flag.variants))
		}
	}
}

// resultsOf checks the results of the operations whose value becomes the
// rule's: if and ?: branches, fractional entries.
func (c *ruleCheck) resultsOf(op string, args any, path []string) {
	list, ok := args.([]any)
	if !ok {
		return
	}
	switch op {
	case "if", "?:":
		for i := 1; i < len(list); i += 2 {
			c.results(list[i], append(path, strconv.Itoa(i)))
		}
		if len(list) > 1 && len(list)%2 == 1 {
			c.results(list[len(list)-1], append(path, strconv.Itoa(len(list)-1)))
		}
	case opFractional:
		for i, e := range list {
			if pair, ok := e.([]any); ok && len(pair) > 0 {
				if _, isRule := pair[0].(map[string]any); !isRule {
					c.results(pair[0], append(path, strconv.Itoa(i), "0"))
				}
			}
		}
	}
}

// variantList names a flag's variants for a message, short.
func variantList(variants map[string]any) string {
	names := sortedKeys(variants)
	out := ""
	for i, n := range names {
		if i == 5 {
			return out + fmt.Sprintf(", … (%d)", len(names))
		}
		if i > 0 {
			out += ", "
		}
		out += quote(n)
	}
	return out
}

// resolveRefs replaces every {"$ref": name} naming an evaluator by the
// evaluator's rule, in place (the flag owns its decoded rule; evaluators are
// shared and never modified). Refs that do not resolve stay: the flag then
// has a parseErr and its rule never runs.
func resolveRefs(v any, evaluators map[string]*evaluator) any {
	switch t := v.(type) {
	case map[string]any:
		if name, ok := t["$ref"].(string); ok && len(t) == 1 {
			if e := evaluators[name]; e != nil {
				return e.rule
			}
			return t
		}
		for k, e := range t {
			t[k] = resolveRefs(e, evaluators)
		}
	case []any:
		for i, e := range t {
			t[i] = resolveRefs(e, evaluators)
		}
	}
	return v
}

// mentionsFlagd reports whether a rule may read "$flagd": it uses
// fractional (whose default bucketing reads $flagd.flagKey) or names
// "$flagd" anywhere. Other rules get no "$flagd" object, saving a map per
// flag.
func mentionsFlagd(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, flagdKey)
	case []any:
		return slices.ContainsFunc(t, mentionsFlagd)
	case map[string]any:
		for k, e := range t {
			if k == opFractional || mentionsFlagd(k) || mentionsFlagd(e) {
				return true
			}
		}
	}
	return false
}

// literalFractional returns the arguments of a rule that is just
// {"fractional": [...]} with literal arguments and entries (no rule
// anywhere), which evaluate runs without JSONLogic; nil otherwise.
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
		if pair, ok := a.([]any); ok && hasRule(pair) {
			return nil
		}
	}
	return args
}
