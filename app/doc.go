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
// Export renders a Config as YAML without secrets; ConfigStore reloads it
// atomically and can apply the pool section to a live pool.
//
// Module(cfg) builds the component graph with the Wire injector
// (sshpool.InitializeMigration) and turns it into an fx lifecycle: flags
// ready, legacy pool and new pool started (warm-up, health loop), the
// compatibility seam installed (legacy.Install) and the admin HTTP server
// (/healthz, /metrics, /debug/pool, /debug/config, and the admin page at /)
// listening; stopped in reverse with the pool drained within the drain
// timeout. Constructors do no I/O beyond reading the flag file; hooks do the
// rest. A *ConfigStore in the graph makes /debug/config and the page show
// the configuration in force after each reload; an *EventLog (a slog
// handler keeping the recent records) fills the page's recent events.
package app
