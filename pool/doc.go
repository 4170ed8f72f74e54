// Package pool is a thread-safe SSH connection pool built by dependency
// injection: no singletons, no package-level state.
//
// A Pool multiplexes leases (sessions, tunnels) over a small number of SSH
// connections per key, bounds connections per key and pool-wide, waits FIFO
// bounded by the caller's context when limits are reached, dials at most
// once per key at a time, evicts idle connections by a pluggable strategy,
// monitors health, cleans up idle and expired connections, and reports
// lock-free statistics and traces.
//
// The pool consumes two interfaces, ConnectionFactory and SSHClient; package
// sshconn implements them on golang.org/x/crypto/ssh, and tests can supply
// their own. Classify sorts SSH failures by type into ErrorKinds so the
// pool, and callers, can tell a dead connection from a session limit or a
// permanent authentication failure.
package pool
