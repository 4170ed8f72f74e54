// Package featureflags wires sshpool's feature flags to OpenFeature on an
// isolated (non-global) API, with a provider that evaluates documents in
// flagd's flag-definition format in-process, giving the answers flagd gives
// for the same document.
//
// # Pieces
//
//   - [Provider] ([NewProvider], [NewFileProvider]): an OpenFeature provider
//     evaluating documents in flagd's flag-definition format (flags,
//     $evaluators with {"$ref": name}, set-level metadata, JSONLogic
//     targeting with flagd's custom operations fractional, sem_ver,
//     starts_with and ends_with), with an optional environment override of
//     [FlagKillSwitch].
//   - [Source]: where documents come from. [FileSource] reads a flag file
//     (bounded in size and time) and follows its changes; a source in
//     another module (an etcd key) implements the same interface. Every
//     document goes through the provider's one path — decode, validate,
//     swap atomically, emit events — so only a document that loads replaces
//     the flags, every reload is counted and logged, and evaluation never
//     waits on a source. [Provider.Document] tells which document is in
//     force (origin, version, SHA-256, load time).
//   - [Lint]: every problem of a document at once, located by line and
//     column, with what flagd does with it; what "sshpool flags validate"
//     prints.
//   - [Flags] ([NewFlags]): an isolated OpenFeature API, its client and its
//     lifecycle (Start, Shutdown).
//   - [FlagKillSwitch], [FlagUseNewPool] and [ServerContext]: the flag keys
//     and the evaluation context of a legacy server, the one definition of
//     each; the migration router (package legacy, Router) evaluates them and
//     is the one place that turns them into a routing decision.
//   - [MetricsHook] and [LogHook]: counting and debug logging of evaluations.
//
// Package routes (featureflags/routes) shows where the router sends a set of
// servers, and what changes between two documents.
//
// # Loading: what refuses a document
//
// As flagd, only a structural problem ([Structural]) refuses a document, and
// the previous flags stay in force: not JSON or YAML, nesting deeper than 64,
// no "flags" object, a flag that is not an object, a flag without "state" or
// "variants", an unknown state, an empty variants object or a variant with
// no value, variants of mixed types, a "defaultVariant" that is not a
// variant, "$evaluators", an evaluator or "metadata" that is not an object.
// sshpool adds an empty flag key, or one with a NUL or other control
// character, and a document larger than the cap ([WithMaxDocumentBytes],
// [ErrDocumentTooLarge]).
//
// A mistake inside a targeting rule ([RuleError]) loads: the flag, and only
// that flag, evaluates as flagd evaluates it, and the load is logged and
// counted per flag ([ProviderStats].RuleErrors). Keys flagd does not know
// are ignored, as flagd ignores them ([Advice]).
//
// # Evaluation
//
// Reasons are STATIC (no targeting), TARGETING_MATCH (a rule chose a
// variant), DEFAULT (a rule returned null, or no default variant), DISABLED
// (flag disabled: caller's default) and ERROR with FLAG_NOT_FOUND (unknown
// key), TYPE_MISMATCH (asked as the wrong type), PARSE_ERROR or GENERAL; on
// error the caller's default is returned. A rule's result names a variant:
// a string as is, true/false the variants "true"/"false", a number its JSON
// text; null is the default variant; anything else, or a name that is not a
// variant, is GENERAL. Rule mistakes evaluate as flagd (its documentation
// and the flagd-testbed conformance scenarios) says:
//
//   - a custom operation given input it cannot use — starts_with/ends_with
//     without exactly two strings, sem_ver without [version, op, version],
//     with an unknown comparison or a value that is not a version, a
//     fractional split that is malformed, whose weights are all 0, or that
//     needs a targeting key and has none — makes the whole rule null
//     wherever it is evaluated (also as an if's condition): the default
//     variant, reason DEFAULT. As in JSONLogic, "if" and "?:" evaluate only
//     the branch taken and "and"/"or" stop at the value that decides, so
//     such an operation in a branch that is not taken has no effect;
//   - an unknown operator, a {"$ref"} to a missing evaluator, or a $ref
//     inside an evaluator: PARSE_ERROR for that flag;
//   - a standard operator the JSONLogic library cannot apply to the
//     context's values (it panics; the panic is recovered): PARSE_ERROR.
//
// fractional hashes flagKey+targetingKey, or its first argument when that
// is a string, with MurmurHash3 x86 32-bit (github.com/twmb/murmur3, as
// flagd), bucket = hash × total >> 32; entries' variant names and weights
// may be rules, evaluated per call; a negative weight counts as 0; a single
// entry wins even without a targeting key (unless its weight is 0). This
// is the bucketing flagd documents and its testbed's fractional-v2
// scenarios check; flagd's draft high-precision bucketing (the testbed's
// fractional-v3 scenarios) assigns other buckets and is not followed until
// flagd adopts it. sem_ver compares with golang.org/x/mod/semver (as
// flagd), accepting a leading "v" or "V", partial versions ("1", "1.2") and
// numbers (1 is v1.0.0, 1.2 is v1.2.0).
//
// FlagMetadata returned with a resolution is shared between evaluations and
// must not be modified.
//
// # Deliberate differences from flagd
//
//   - "targeting": null means no targeting (reason STATIC); flagd runs the
//     null rule (reason DEFAULT). The value is the same; null is how YAML
//     writes a key left empty ("targeting:"), which means no rule.
//   - An integer asked of a number variant with a fraction (2.5) is
//     TYPE_MISMATCH with the caller's default; flagd's Go evaluator
//     truncates it to 2. Truncating would hand the caller a value no variant
//     holds (flagd's conformance scenarios leave this case open).
//   - A disabled flag resolves with reason DISABLED and the caller's default,
//     without an error code (OpenFeature's reason); flagd reports an error.
//   - An evaluator may not use $ref (flagd's substitution order would make
//     the result depend on map order): the flags using it get PARSE_ERROR.
//   - Metadata values that are not strings, numbers or booleans are ignored
//     with a warning (OpenFeature metadata holds only those).
//   - Control characters in flag keys, and documents over the size cap, are
//     refused: they are mistakes or attacks, not flags.
//
// # JSONLogic and package-level state
//
// Rules run on github.com/diegoholiveira/jsonlogic/v3 (v3.5.1; the library
// flagd's Go evaluator is built on), whose only custom-operator API,
// jsonlogic.AddOperator, writes a package-global map with no locking that
// every evaluation reads. The four flagd operations are therefore registered
// there exactly once, guarded by a sync.Once, when the first flag document is
// parsed (never in init), with lazy forms of if, ?:, and, or: the library
// evaluates every argument of an operation first, so each rule's control
// operations are rewritten at load into these forms, which evaluate their
// arguments only as needed and otherwise give the library's results. They
// are pure functions: the flag key and targeting key reach them through the
// rule's data, so one registration serves every provider. An operation that
// cannot use its input panics with an error value, which the library
// recovers into the evaluation's error: its API offers custom operations no
// other way to fail. Caveat: another
// package of the same binary calling jsonlogic.AddOperator while flags are
// evaluated would race, and one registering the same names would replace
// these operations. This registration and its sync.Once are the package's
// only package-level state.
//
// A rule that is exactly {"fractional": [...]} with literal arguments (the
// usual rollout) is evaluated without JSONLogic, allocation-free, with the
// same result.
//
// # Limits
//
//   - The JSONLogic library evaluates only the top level of an operator's
//     arguments: a rule inside an array literal (other than a fractional
//     entry) is compared as data, not evaluated; [Lint] warns.
//   - Numbers are float64: integer variants beyond 2^53 lose precision.
//   - A provider retains about eleven times a rule-heavy document's size in
//     memory (Go maps per JSONLogic operation); the size cap bounds it
//     (BenchmarkLoadLargeDocument).
package featureflags
