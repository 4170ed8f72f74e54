// Package featureflags wires sshpool's feature flags to OpenFeature on an
// isolated (non-global) API, with a provider that evaluates flag files written
// in flagd's flag-definition format in-process.
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
//     swap atomically, emit events — so only a valid document replaces the
//     flags, every reload is counted and logged, and evaluation never waits
//     on a source. [Provider.Document] tells which document is in force
//     (origin, version, SHA-256, load time).
//   - [Flags] ([NewFlags]): an isolated OpenFeature API, its client and its
//     lifecycle (Start, Shutdown), plus the router's decision RouteToNewPool.
//   - [ServerContext]: the evaluation context of a legacy server.
//   - [MetricsHook] and [LogHook]: counting and debug logging of evaluations.
//
// # Results
//
// Reasons are STATIC (no targeting), TARGETING_MATCH (a rule chose a variant),
// DEFAULT (a rule returned null, or no default variant), DISABLED (flag
// disabled: caller's default) and ERROR with FLAG_NOT_FOUND (unknown key),
// TYPE_MISMATCH (asked as the wrong type), PARSE_ERROR (the rule could not be
// applied to the context, e.g. an ill-typed operand) or GENERAL (the rule chose
// no variant); on error the caller's default is returned. A file that fails to
// parse never replaces valid flags: that is reported by [ValidateFlagFile],
// [NewFileProvider] and reload events (ProviderError with PARSE_ERROR), while
// evaluations keep using the last valid file.
//
// FlagMetadata returned with a resolution is shared between evaluations and
// must not be modified.
//
// # JSONLogic and package-level state
//
// Rules run on github.com/diegoholiveira/jsonlogic/v3 (v3.5.1), whose only
// custom-operator API, jsonlogic.AddOperator, writes a package-global map with
// no locking that every evaluation reads. The four flagd operations are
// therefore registered there exactly once, guarded by a sync.Once, when the
// first flag file is parsed (never in init). They are pure functions: the flag
// key and targeting key reach them through the rule's data, so one
// registration serves every provider. Caveat: another package of the same
// binary calling jsonlogic.AddOperator while flags are evaluated would race,
// and one registering the same names would replace these operations. This
// registration and its sync.Once are the package's only package-level state.
//
// A rule that is exactly {"fractional": [...]} with literal arguments (the
// usual rollout) is evaluated without JSONLogic, allocation-free, with the
// same result.
//
// # Limits
//
//   - The JSONLogic library evaluates only the top level of an operator's
//     argument list: rules nested inside array literals are not evaluated
//     (fractional entries must be literal [variant, weight] pairs).
//   - Standard operators given ill-typed values (e.g. "in" with a number and a
//     string) make the library panic; the panic is recovered and the
//     evaluation ends with ERROR/PARSE_ERROR, i.e. the caller's default.
//   - Numbers are float64: integer variants beyond 2^53 lose precision.
package featureflags
