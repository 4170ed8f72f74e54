// Package app runs sshpool's migration layer under go.uber.org/fx.
//
// LoadConfig (koanf) reads defaults, a YAML or JSON file and SSHPOOL_
// environment variables into a Config, strictly (unknown keys are errors)
// and validated (errors name the field); Export renders it as YAML without
// secrets; ConfigStore reloads it atomically and can apply the pool section
// to a live pool.
//
// Module() is a plain fx.Module that a host nests in its own application:
// it sets no app-wide option (start and stop timeouts are the host's; see
// LifecycleSection for recommended values), takes its Config from the
// graph or from WithConfig or WithLoader, builds the component graph with
// the Wire injector (sshpool.InitializeMigration) and turns it into an fx
// lifecycle: flags ready, legacy pool and new pool started (warm-up,
// health loop), the compatibility seam installed (legacy.Install), the
// Prometheus collector (package metrics) registered and the admin HTTP
// server (/livez, /readyz, /metrics, /debug/...) listening; stopped in
// reverse with the pool drained within the drain timeout. Optional inputs
// from the graph: a *slog.Logger, a providers.Observers (tracing hooks,
// such as module otelsshpool's), a prometheus.Registerer and Gatherer.
// Constructors do no I/O beyond reading the flag file; hooks do the rest.
package app
