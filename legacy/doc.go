// Package legacy keeps the old singleton SSH connection pool working while a
// service moves to the dependency-injected pool (package pool), and lets the
// two run side by side.
//
// It has three parts, all serving one old API (ConnectionProvider and
// Connection):
//
//   - ConnectionPool reproduces the old pool: one connection per (server,
//     user) in a map keyed "host:port:id:root|app" (see Key), a health ticker
//     (30 s) that runs a command on every connection, a stale sweep (15 min),
//     no limits. It is the rollback target. Unlike the old code it dials
//     through an injected pool.ConnectionFactory (so host keys are verified
//     by package sshconn), classifies errors by type with pool.Classify
//     instead of matching message text, and waits for its goroutines in Stop.
//     GetConnectionPool is the old singleton accessor.
//   - Adapter serves the old API from the new pool: each command leases a
//     client, runs, and releases it.
//   - Router implements the same API and picks the legacy pool or the
//     adapter for every command from OpenFeature flags: "kill-switch" forces
//     legacy; otherwise "use-new-pool" is evaluated with the server ID as
//     targeting key. Unknown flags, a provider that is not ready, and
//     evaluation errors route to legacy, counted and reported to the
//     decision hook. A flip affects commands that start after it; a command
//     in flight finishes on the pool it started on. When a key's route
//     changes, the pool that lost it is asked to drop the key's idle
//     connection.
//
// # Reaching the router from old call sites
//
// Old code called ssh.GetConnectionPool().GetOrCreateConnection(server,
// asRoot). That call keeps working unedited: while a provider (the router)
// is installed with Install, the singleton's GetOrCreateConnection is served
// by it, and after restore by the singleton again. The singleton's other
// methods (status, cleanup, Stop) keep acting on the legacy pool itself, and
// a router whose legacy route is the singleton uses it directly, so it never
// routes to itself. Code that wants the provider as a value (to inject it)
// uses Provider, which returns the installed provider or the singleton;
// GetConnectionManager follows Install too.
//
// At start-up: restore := legacy.Install(router); at shutdown: restore().
//
// # Registering targets
//
// The legacy pool and the adapter dial keys of the form "host:port:id:root|app"
// that only they understand. The legacy pool calls a TargetRegistrar before
// every dial of a key, the adapter the first time it serves a key and when
// the Server's settings change, so the wiring can register the key as a
// target of the SSH factory. TargetRegistrar is an interface, not an import
// of sshconn, because this package depends only on package pool (design:
// legacy → pool); the bridge is a few lines in the wiring, which the tests
// of this package use as written:
//
//	func (r registrar) RegisterServer(key string, s *legacy.Server, asRoot bool) error {
//		t := sshconn.Target{Host: s.Host, Port: s.EffectivePort(), User: s.User(asRoot)}
//		t.Auth.Agent = s.UseAgent
//		if s.KeyPath != "" { t.Auth.IdentityFiles = []string{s.KeyPath} }
//		if s.KnownHostsPath != "" { t.KnownHostsFiles = []string{s.KnownHostsPath} }
//		// PasswordRef / KeyPassphraseRef: resolve through sshconn.SecretSource.
//		r.reg.Register(key, t)
//		return nil
//	}
//
// Host keys are then verified strictly (sshconn's default).
//
// # Decision cost
//
// By default every command evaluates both flags (a few microseconds with an
// in-process provider, nearly all inside the OpenFeature SDK), so a flip
// reaches the very next command. WithDecisionCache lets each connection
// reuse its last evaluation until the provider reports a change by an
// event (or a ttl passes): a decision then costs a few hundred nanoseconds
// and no allocation, and a flip reaches new commands once the provider's
// event has been delivered.
//
// # Differences from the old pool
//
// Errors are classified by type (pool.Classify, CommandError) instead of by
// message text; dials go through a pool.ConnectionFactory with strict host
// key checking, outside the pool lock, one per key at a time; RemoveConnection
// and the sweeps close a connection only when its running commands have
// ended (Close on a PooledConnection still closes at once, as before); Stop
// waits for the health and sweep goroutines.
//
// This is the only package in the module with package-level mutable state:
// the singleton pool, the default factory and the installed provider.
package legacy
