// Package legacy is the old singleton SSH connection pool, as a drop-in: a
// service that used it changes an import and renames its server type
// (models.Server → legacy.Server), and its call sites compile and behave
// as before. It then moves to the dependency-injected pool (package pool)
// server by server, with a flag, through the same call sites.
//
// # The old API
//
// GetConnectionPool and NewConnectionPool return a *ConnectionPool (Start,
// Stop, GetOrCreateConnection, RemoveConnection, GetConnectionStatus,
// CleanupStaleConnections); GetOrCreateConnection returns a
// *PooledConnection (ExecuteCommand, ExecuteCommandStream, IsHealthy,
// TestHealth, UpdateLastUsed, GetHealthStatus, Close, GetManager);
// GetConnectionManager and NewConnectionManager return a
// *ConnectionManager (ExecuteCommand, ExecuteCommandStream,
// TestConnection, GetConnectionStatus, CleanupConnections, Shutdown);
// Server and NewServer are the old model; ConnectionHealthStatus keeps its
// fields and JSON names; error messages start with the old texts ("failed
// to get connection: ", "connection is not healthy: ", "command failed: ")
// and wrap typed errors (*CommandError) that errors.Is, errors.As and
// failure.Classify see through.
//
// # No set-up
//
// GetConnectionPool() works out of the box, as the old pool did: it dials
// each Server's Target (the SSH agent when UseSSHAgent, ManualKeyPath, then
// ~/.ssh/id_rsa, id_ed25519 and id_ecdsa; host keys from
// ~/.ssh/known_hosts, recorded on first use, strictly for SecurityLocked
// servers; see Server.Target). For that one default this package imports
// package sshconn (dial.go), where otherwise it depends only on package
// pool's interfaces: the old pool dialled by itself, and a drop-in that
// needed a factory registered first (or a blank import to remember) would
// not be one. The dependency stays one-way (sshconn never imports legacy)
// and costs nothing a user of the module does not already have; the
// wiring (package providers) still injects its own factory with
// WithFactory, registering the same Targets.
//
// # Three providers, one connection type
//
// ConnectionPool reproduces the old pool: one connection per (server,
// user) under Key, a health ticker (30 s), a stale sweep (every 5 min, of
// connections unused for 15 min). Adapter
// serves the same API from the new pool: each command leases a client,
// runs, and releases it. Router picks the legacy pool or the adapter for
// every command from OpenFeature flags: "kill-switch" forces legacy;
// otherwise "use-new-pool" is evaluated, both with the server's
// EvaluationContext (the server ID as targeting key). The keys and the
// context are package featureflags' (FlagKillSwitch, FlagUseNewPool,
// ServerContext); the decision is the router's alone (Decide). Unknown flags, a provider that is not ready, and evaluation errors
// route to legacy, counted and reported to the decision hook. A flip
// affects commands that start after it; a command in flight finishes on
// the pool it started on. When a key's route changes, the pool that lost
// it is asked to drop the key's idle connection. All three return the same
// *PooledConnection type, with the same output and errors for the same
// situation.
//
// # Reaching the router from old call sites
//
// Old code calls GetConnectionPool().GetOrCreateConnection(server, asRoot)
// or GetConnectionManager(). While a provider (the router) is installed
// with Install, the singleton's methods are served by it: connections are
// routed, GetConnectionStatus reports both pools under the old keys,
// CleanupStaleConnections and RemoveConnection reach both, Stop stops
// both. After restore, the singleton serves itself again. Provider returns
// the installed provider or the singleton, as a value to inject. At
// start-up: restore := legacy.Install(router); at shutdown: restore(), then
// stop the singleton, so that old call sites get ErrPoolStopped ("shutting
// down") rather than connections nobody will drain (package app does this).
//
// # Decision cost
//
// By default every command evaluates both flags (a few microseconds with an
// in-process provider, nearly all inside the OpenFeature SDK), so a flip
// reaches the very next command; a connection's first command reuses the
// decision GetOrCreateConnection took for it, so an old-style call costs
// one evaluation. WithDecisionCache caches decisions per key (server and
// role) until the provider reports a change by an event (or a ttl passes):
// a decision then costs a few hundred nanoseconds and no allocation, and a
// flip reaches new commands once the provider's event has been delivered.
//
// # Deliberate differences from the old pool
//
// Each closes a hole the old pool had; migration-guide.md has the table.
//
//   - Every command has a deadline (WithCommandTimeout, 5 min by default),
//     on both pools; every dial one (WithDialTimeout, 30 s).
//   - Host keys: unknown hosts are recorded on first use, as before, but a
//     changed key is refused, and SecurityLocked servers are strict.
//   - A dead connection (server restart) is re-established in place, on
//     the next command, for every holder.
//   - Sessions beyond the server's MaxSessions wait for a slot (with
//     backoff, within the command's deadline) instead of failing.
//   - A key whose dial failed is not redialled for a short backoff (50 ms,
//     doubling to 1 s), instead of on every call.
//   - Stop drains: new calls are refused, running commands may finish
//     within the drain timeout, what it cut is reported.
//   - Streams never block the remote command and drop nothing silently.
//   - Errors are classified by type, not message text; status does no I/O.
//
// This is the only package in the module with package-level mutable state:
// the singleton pool, its factory override and the installed provider.
package legacy
