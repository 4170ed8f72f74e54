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
// their own. Classify sorts SSH failures by type into ErrorKinds so the
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
// (ErrLeaseReleased, ErrNilClient, ErrForeignClient), is counted and
// traced, and never corrupts the counts.
//
// Connections past MaxLifetime, marked unhealthy, or whose client is no
// longer alive never get new leases; they close when their last lease ends.
// Close fails waiters with ErrPoolClosed, closes every connection and
// returns only when every goroutine the pool started has ended;
// CloseContext first lets leases in flight finish.
//
// # Concurrency
//
// The hit path (Get on a key with a free slot and nobody queued, Release
// without waiters) takes no lock: keys are found in sharded copy-on-write
// maps, a key's connections in a copy-on-write slice, and a slot is
// reserved by a CAS on the connection's control word (lease count plus a
// draining flag). Everything else — waiters, dials, eviction, closing —
// runs under one pool mutex. Lock order: pool.mu before the history ring's
// mutex; nothing else nests. No I/O and no tracer call happens under a
// lock: decisions made under the mutex are collected and carried out after
// unlocking.
//
// The pool starts goroutines only for dials (and Warmup runs its own); it
// owns and waits for all of them.
package pool
