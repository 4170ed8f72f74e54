// Package app runs sshpool's migration layer under go.uber.org/fx.
//
// LoadConfig (koanf) reads defaults, a YAML or JSON file and SSHPOOL_
// environment variables into a Config, strictly (unknown keys are errors)
// and validated. Every problem of a load comes back in one *ConfigError,
// each naming the config key, the value (secrets redacted) and where it came
// from: "c.yaml:3: pool.max_connections = -1, want 1..1048576" or
// "env SSHPOOL_POOL__MAX_CONECTIONS: ... unknown key". An SSHPOOL_ variable
// that addresses no existing key is an error naming it; one without "__"
// cannot address any key (Kubernetes service links define SSHPOOL_PORT for a
// Service named sshpool) and is ignored with a warning (LoadOptions.Warn).
// The file is read bounded: a regular file once links are resolved (a FIFO
// or /dev/zero is refused before anything is read), of at most
// DefaultConfigMaxBytes (1 MiB; LoadOptions.MaxBytes), within 5 s; a long
// key or value in a problem is cut to a short quoted prefix.
// Export renders a Config as YAML without secrets; ConfigStore reloads it
// atomically and can apply the pool section to a live pool. DiffConfig
// says what replacing one Config by another changes: the pool keys a
// reload applies with their impact on the pool's connections
// (pool.PlanConfigChange), and the keys that wait for a restart;
// ConfigStore.ApplyPool returns it for each reload.
//
// Module() is a plain fx.Module that a host nests in its own application:
// it sets no app-wide option (start and stop timeouts are the host's; see
// LifecycleSection for recommended values), takes its Config from the
// graph or from WithConfig or WithLoader, builds the component graph with
// the Wire injector (sshpool.InitializeMigration) and turns it into an fx
// lifecycle: flags ready, legacy pool and new pool started (warm-up,
// health loop), the compatibility seam installed (legacy.Install), the
// Prometheus collector (package metrics) registered and the admin HTTP
// server (the admin page at /, /livez, /readyz, /metrics, /debug/...)
// listening; stopped in reverse with the pool drained within the drain
// timeout. Optional inputs
// from the graph: a *slog.Logger, a providers.Observers (tracing hooks,
// such as module otelsshpool's), a prometheus.Registerer and Gatherer.
// A *ConfigStore in the graph makes /debug/config and the admin page show
// the configuration in force after each reload; an *EventLog (a slog handler
// keeping the recent records) fills the page's recent events. Constructors
// do no I/O beyond reading the flag document (the file, or the source
// registered with WithFlagSource for flags.source: etcd); hooks do the
// rest.
package app
