// Package pool is a thread-safe SSH connection pool built by dependency
// injection: no singletons, no package-level state.
//
// A Pool multiplexes leases (sessions, tunnels) over a small number of SSH
// connections per key, bounds connections per key and pool-wide, waits FIFO
// bounded by the caller's context when limits are reached, dials at most
// once per key at a time, evicts idle connections by a pluggable strategy,
// checks health, and reports lock-free statistics and traces.
//
// The pool consumes two interfaces, ConnectionFactory and SSHClient; package
// sshconn implements them on golang.org/x/crypto/ssh, and tests can supply
// their own. Package failure sorts SSH failures by type into Kinds so the
// pool, and callers, can tell a dead connection from a session limit or a
// permanent authentication failure.
//
// # Model
//
// A key names a target. Per key there are 1..MaxConnectionsPerKey
// connections, each carrying at most MaxSessionsPerConnection leases. Get
// reserves a slot on a usable connection chosen by the affinity hint
// (WithAffinity) and the LoadBalancing mode; when every connection is full
// it dials another (one dial in flight per key, outside every lock, on the
// pool's own context bounded by DialTimeout, so a caller that gives up does
// not cancel it); when the limits forbid that it waits, FIFO, until a slot
// frees, its context ends or WaitTimeout passes. At MaxConnections a new
// key evicts an idle connection chosen by the EvictionStrategy, or waits.
//
// Get returns a lease handle that implements SSHClient. Return it with
// Release(key, client) or the handle's Close method. Closing a handle
// releases the lease; it does not close the shared connection (use
// MarkUnhealthy for a connection that misbehaves). Releasing twice, a nil
// or foreign client, or using a released handle returns a sentinel error
// (ErrLeaseReleased, ErrForeignClient), is counted and
// traced, and never corrupts the counts.
//
// Connections past MaxLifetime, marked unhealthy, or whose client is no
// longer alive never get new leases; they close when their last lease ends.
// Close fails waiters with ErrPoolClosed, closes every connection and
// returns only when every goroutine the pool started has ended;
// CloseContext first lets leases in flight finish.
//
// # Health and cleanup
//
// Constructors start nothing; Start starts the background loops and Close
// stops and waits for them.
//
//   - Death is noticed at once: watcher goroutines (one per 64
//     connections) wait on every client's Done and retire a connection
//     whose connection ended (EventLost), as does a connection-level
//     error of a lease's Run, Exec, NewSession or DialContext. A client
//     that implements EndNotifier (sshconn.Client does) also marks its
//     entry dead before Done closes, so no Get hands it out even before
//     the watcher runs; other clients' Done is checked at Get. A
//     session-limit refusal is retried, never a health failure. A
//     connection that turns out dead only when Pool.Run opens its session
//     (ErrNotStarted: the command never reached the server) is retired and
//     the command runs on another connection.
//   - The health loop (started by Pool.Start) probes, every HealthInterval
//     with jitter, idle connections and busy ones without a release for an
//     interval, with the HealthMonitor (keepalive@openssh.com by default;
//     PoolHealthMonitor configures interval, timeout, threshold and a
//     command per key). A probe that times out closes its client; a key's
//     threshold of consecutive failures marks a connection unhealthy. RTT
//     is recorded per connection.
//   - An unhealthy connection gets no new leases, its leases finish, it is
//     closed, and it is replaced in the background when the key has
//     waiters, is a warm-up key below WarmupConnections, or was just used.
//   - A key whose dials keep failing (CircuitThreshold in a row), or fail
//     permanently (authentication, host key), opens its circuit: Get fails
//     fast with ErrCircuitOpen for a cooldown, then one trial dial decides.
//     The cooldown starts at CircuitBaseCooldown (200ms) and doubles at
//     each failed trial up to CircuitCooldown (1s), whatever the failure:
//     a key serves again within about a second of its fault ending, and a
//     failing key costs at most one dial a second while callers ask for
//     it; repeated authentication failures, which sshd penalises, at most
//     one per CircuitAuthCooldown (5s). RetryNow (called by app on a configuration reload, and by the
//     pool itself when a ChangeDetector factory such as sshconn's reports
//     a rewritten known_hosts or identity file) lets the next dial through
//     at once. Warm-up keys topped up without a caller back off further,
//     to WarmupBackoffMax (EventWarmupBackoff).
//   - The cleanup loop (started by Pool.Start) closes connections idle past MaxIdleTime or older
//     than MaxLifetime, shrinks to lowered limits, and reports leases held
//     past LeakThreshold (once, and again when released).
//
// HealthCheck reports per key and connection with a verdict for readiness
// probes: unhealthy only when the pool is closed or can serve none of the
// keys in demand, so one host with bad credentials degrades the report
// without failing readiness (see HealthStatus); SubscribeHealth
// streams HealthEvents, which also reach the Tracer's HealthEvent hook.
//
// A Tracer (NewPool's third argument; NewSlogTracer logs, MultiTracer
// combines) is a struct of optional hooks: set those you need, a nil hook
// is skipped and a nil Tracer costs nothing. Get, dial, health probe and
// command each have a Start and an End hook sharing one data value per
// operation; the rest are events: release, state change, misuse, health
// event and connection close, which is also how an eviction is seen
// (ReasonEvicted, with the strategy's name).
//
// # Concurrency
//
// The hit path (Get on a key with a free slot and nobody queued, Release
// without waiters) takes no lock: keys are found in sharded copy-on-write
// hash tables whose slot points straight at a key's only connection (or at
// the key's copy-on-write list of connections), and a slot is reserved by
// a CAS on the connection's control word (lease count, use count, and
// draining, dead and waiters-queued flags). Everything else — waiters,
// dials, eviction, closing — runs under one pool mutex. Lock order:
// pool.mu before the history ring's mutex and before a PoolHealthMonitor's
// lock (which must not call back into the pool); nothing else nests. No I/O and
// no tracer call happens under a lock: decisions made under the mutex are
// collected and carried out after unlocking.
//
// The pool starts goroutines for dials, death watchers and, after Start,
// the health and cleanup loops (Warmup runs its own); it owns and waits for
// all of them.
package pool
