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
//   - Death is noticed at once: the pool watches every client's Done (and
//     a client that implements EndNotifier, as sshconn.Client does, marks
//     its connection dead before Done closes) and retires a connection
//     whose connection ended (EventLost), as it does after a
//     connection-level error of a lease's Run, Exec, NewSession or
//     DialContext. A command that failed before it reached the server
//     (ErrNotStarted) runs again on another connection; a session-limit
//     refusal is retried and is never a health failure.
//   - The health loop probes, every HealthInterval with jitter, idle
//     connections and busy ones without a release for an interval, with
//     the HealthMonitor (keepalive@openssh.com by default;
//     PoolHealthMonitor configures probes per key). A probe that times out
//     closes its client; a key's threshold of consecutive failures marks a
//     connection unhealthy. An unhealthy connection gets no new leases,
//     closes when its leases end, and is replaced in the background when
//     the key is in use or a warm-up key.
//   - A key whose dials keep failing, or fail permanently (authentication,
//     host key), opens its circuit: Get fails fast with ErrCircuitOpen for
//     a cooldown of 200ms doubling to 1s (5s after repeated authentication
//     failures, which sshd penalises), then one trial dial decides; see
//     AdvancedPoolConfig. RetryNow lets the next dial through at once when
//     something that may fix the failure changed: app calls it on a
//     configuration reload, the pool when a ChangeDetector factory such as
//     sshconn's reports a rewritten known_hosts or identity file.
//   - The cleanup loop closes connections idle past MaxIdleTime or older
//     than MaxLifetime, shrinks to lowered limits, and reports leases held
//     past LeakThreshold.
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
// A Pool is safe for concurrent use. Get on a key with a free slot and
// Release without waiters take no lock; no I/O and no tracer call happens
// under a pool lock. The pool owns every goroutine it starts (dials, death
// watchers, and after Start the health and cleanup loops) and Close waits
// for them.
package pool
