// Package app runs sshpool's migration layer under go.uber.org/fx.
//
// LoadConfig (koanf) reads defaults, a YAML or JSON file and SSHPOOL_
// environment variables into a Config, strictly (unknown keys are errors)
// and validated (errors name the field); Export renders it as YAML without
// secrets; ConfigStore reloads it atomically and can apply the pool section
// to a live pool.
//
// Module(cfg) builds the component graph with the Wire injector
// (sshpool.InitializeMigration) and turns it into an fx lifecycle: flags
// ready, legacy pool and new pool started (warm-up, health loop), the
// compatibility seam installed (legacy.Install) and the admin HTTP server
// (/healthz, /metrics, /debug/pool, /debug/config) listening; stopped in
// reverse with the pool drained within the drain timeout. Constructors do no
// I/O beyond reading the flag file; hooks do the rest.
package app
