package pool

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/internal/latency"
)

// poolStats holds a pool's cumulative counters, each an atomic updated
// without locks. The hit path touches none of them: a Get's lease and use
// are counted by the same CAS that reserves the slot, in the connection's
// own control word, so goroutines working on different connections share
// no counter cache line. Gets, Releases, Hits and LeasesOutstanding are
// summed from the connections (and foldedUses, the uses of connections
// already closed) when a snapshot is taken. Read them through GetSnapshot.
type poolStats struct {
	foldedUses     atomic.Int64 // leases granted on connections since removed
	waitedGranted  atomic.Int64 // leases granted after a wait
	waitCount      atomic.Int64 // Gets that waited
	waitNanos      atomic.Int64 // total time spent waiting
	misses         atomic.Int64 // dials started for a Get that found no usable connection
	dials          atomic.Int64 // dials finished (success or failure)
	dialFailures   atomic.Int64 // dials that failed
	dialNanos      atomic.Int64 // total dial latency
	created        atomic.Int64 // connections added to the pool
	closedBy       [numReasons]atomic.Int64
	runs           atomic.Int64 // Run calls that ran a command
	runErrors      atomic.Int64 // Run calls that returned an error
	runRetries     atomic.Int64 // Run attempts repeated after a not-started connection loss
	sessionRetries atomic.Int64 // Run and Exec attempts repeated after a session-limit refusal
	runNanos       atomic.Int64 // total Run response time
	misuse         atomic.Int64 // double releases, foreign or nil clients, use after release
	warmupFailures atomic.Int64 // warm-up dials that failed
	healthChecks   atomic.Int64 // health probes run
	healthFailures atomic.Int64 // health probes that failed
	leaks          atomic.Int64 // leases reported held past LeakThreshold
	replacements   atomic.Int64 // background dials replacing lost connections
	circuitOpens   atomic.Int64 // times a key's circuit opened from closed
	getTimeouts    atomic.Int64 // Gets that gave up at a deadline (WaitTimeout or the caller's)
	getCancels     atomic.Int64 // Gets whose context was canceled

	// Latency distributions, recorded off the hit path: waits only when a
	// Get waits, dials when a dial ends, commands once per command (which
	// costs a session round trip, 0.3 ms at the very least).
	waitLatency    latency.Recorder // Gets that waited: time waited
	dialLatency    latency.Recorder // finished dials, failed ones included
	commandLatency latency.Recorder // commands run on a lease, failed ones included
	commandErrors  atomic.Int64     // commands run on a lease that returned an error

	// gauges fills the point-in-time fields of a snapshot. Set once by the
	// pool before it is shared.
	gauges func(*Snapshot)
}

// Snapshot is a point-in-time copy of a pool's statistics: gauges (what
// is open now) and cumulative counters since the pool was created, in the
// spirit of database/sql.DBStats.
type Snapshot struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`

	// MaxConnections is the configured pool-wide limit.
	MaxConnections int `json:"max_connections"`
	// Keys is the number of keys with connections, dials or waiters.
	Keys int `json:"keys"`
	// Total counts open connections in every state but closed.
	Total int `json:"total"`
	// Active counts usable connections with at least one lease.
	Active int `json:"active"`
	// Idle counts usable connections without leases.
	Idle int `json:"idle"`
	// Healthy is Active+Idle: connections that can take new leases.
	Healthy int `json:"healthy"`
	// Unhealthy counts connections marked unhealthy, not yet closed.
	Unhealthy int `json:"unhealthy"`
	// Draining counts connections retired (lifetime, eviction, limits),
	// waiting for their leases to end.
	Draining int `json:"draining"`
	// Dialing counts dials in flight.
	Dialing int `json:"dialing"`
	// Waiting counts Gets waiting now.
	Waiting int `json:"waiting"`
	// LeasesOutstanding counts leases handed out and not yet released.
	LeasesOutstanding int64 `json:"leases_outstanding"`

	// Gets counts leases granted; Releases counts leases returned.
	Gets     int64 `json:"gets"`
	Releases int64 `json:"releases"`
	// Hits counts Gets served at once from an existing connection.
	Hits int64 `json:"hits"`
	// Misses counts dials started because a Get found no usable
	// connection with a free slot.
	Misses int64 `json:"misses"`
	// WaitCount counts Gets that had to wait; WaitDuration is their total
	// waiting time.
	WaitCount    int64         `json:"wait_count"`
	WaitDuration time.Duration `json:"wait_duration"`
	// Created counts connections added (dialled) to the pool.
	Created int64 `json:"created"`
	// Closed counts connections closed; ClosedByReason splits it. A
	// connection counts once the pool has removed it, which may come a
	// moment after its retirement: a connection found dead by the pool's
	// watcher is removed by the watcher, possibly after a Get has already
	// dialled its replacement.
	Closed         int64                 `json:"closed"`
	ClosedByReason map[CloseReason]int64 `json:"closed_by_reason"`
	// Dials counts finished dials; DialFailures those that failed;
	// AvgDialLatency is their mean duration.
	Dials          int64         `json:"dials"`
	DialFailures   int64         `json:"dial_failures"`
	AvgDialLatency time.Duration `json:"avg_dial_latency"`
	// Runs counts commands run by Pool.Run, RunErrors those that failed,
	// AvgResponseTime their mean duration (Get to Release).
	Runs            int64         `json:"runs"`
	RunErrors       int64         `json:"run_errors"`
	AvgResponseTime time.Duration `json:"avg_response_time"`
	// RunRetries counts commands Pool.Run ran again on another connection
	// because the first attempt lost its connection before the command
	// started (ErrNotStarted). A high rate means connections die unseen
	// while idle: shorten HealthInterval.
	RunRetries int64 `json:"run_retries"`
	// SessionLimitRetries counts commands that Run and Exec (of the pool
	// or of a lease) opened again after the server refused their session
	// at its session limit (failure.SessionLimit), each retry once. A steady
	// rate means MaxSessionsPerConnection is above what the server allows
	// (OpenSSH: MaxSessions, default 10).
	SessionLimitRetries int64 `json:"session_limit_retries"`
	// Misuse counts double releases, foreign or nil clients and calls on
	// released handles.
	Misuse int64 `json:"misuse"`
	// WarmupFailures counts failed warm-up dials: Warmup's, and the health
	// loop's top-ups of warm-up keys (which back off, EventWarmupBackoff).
	WarmupFailures int64 `json:"warmup_failures"`
	// HealthChecks and HealthFailures count health probes and failures.
	HealthChecks   int64 `json:"health_checks"`
	HealthFailures int64 `json:"health_failures"`
	// Leaks counts leases reported as held past LeakThreshold (each once).
	Leaks int64 `json:"leaks"`
	// EventsDropped counts HealthEvents not delivered because a
	// subscriber's buffer was full (Pool.SubscribeHealth).
	EventsDropped int64 `json:"events_dropped"`
	// Replacements counts background dials started to replace unhealthy
	// or lost connections.
	Replacements int64 `json:"replacements"`
	// CircuitOpens counts how often a key's circuit breaker opened: once
	// per outage (from closed to open); failed trials keep it open without
	// counting again.
	CircuitOpens int64 `json:"circuit_opens"`
	// GetTimeouts counts Gets that failed because a deadline passed before
	// a lease was free: WaitTimeout or the caller's context deadline.
	// GetCancellations counts Gets whose context was canceled. Both
	// include Gets whose context had ended before they began.
	GetTimeouts      int64 `json:"get_timeouts"`
	GetCancellations int64 `json:"get_cancellations"`

	// WaitLatency is the distribution of how long Gets that waited (for a
	// dial or for a slot) waited, served or given up; its Count and Sum
	// match WaitCount and WaitDuration up to the waits in flight. Hits do
	// not wait and are not in it.
	WaitLatency LatencyHistogram `json:"wait_latency"`
	// DialLatency is the distribution of finished dials' durations,
	// failures included (Count is Dials).
	DialLatency LatencyHistogram `json:"dial_latency"`
	// CommandLatency is the distribution of commands' durations on their
	// connection (session open to exit, as Result.Duration, but failures
	// included), however run: Pool.Run and Exec, or a lease's Run and
	// Exec. Unlike AvgResponseTime it excludes the Get. CommandErrors
	// counts those that returned an error, a non-zero exit included
	// (unlike RunErrors, it excludes failed Gets and includes commands run
	// on a lease without Pool.Run).
	CommandLatency LatencyHistogram `json:"command_latency"`
	CommandErrors  int64            `json:"command_errors"`
}

func avg(total, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(total / n)
}

// GetSnapshot returns the current statistics (see Pool.GetSnapshot).
func (s *poolStats) GetSnapshot() Snapshot {
	var snap Snapshot
	if s.gauges != nil {
		s.gauges(&snap)
	}
	snap.Releases = snap.Gets - snap.LeasesOutstanding
	snap.Hits = snap.Gets - s.waitedGranted.Load()
	snap.Misses = s.misses.Load()
	snap.WaitCount, snap.WaitDuration = s.waitCount.Load(), time.Duration(s.waitNanos.Load())
	snap.Created = s.created.Load()
	snap.ClosedByReason = make(map[CloseReason]int64, numReasons)
	for r := range numReasons {
		n := s.closedBy[r].Load()
		snap.ClosedByReason[r.public()] = n
		snap.Closed += n
	}
	snap.Dials, snap.DialFailures = s.dials.Load(), s.dialFailures.Load()
	snap.AvgDialLatency = avg(s.dialNanos.Load(), snap.Dials)
	snap.Runs, snap.RunErrors, snap.RunRetries = s.runs.Load(), s.runErrors.Load(), s.runRetries.Load()
	snap.SessionLimitRetries = s.sessionRetries.Load()
	snap.AvgResponseTime = avg(s.runNanos.Load(), snap.Runs)
	snap.Misuse, snap.WarmupFailures = s.misuse.Load(), s.warmupFailures.Load()
	snap.HealthChecks, snap.HealthFailures = s.healthChecks.Load(), s.healthFailures.Load()
	snap.Leaks, snap.Replacements, snap.CircuitOpens = s.leaks.Load(), s.replacements.Load(), s.circuitOpens.Load()
	snap.GetTimeouts, snap.GetCancellations = s.getTimeouts.Load(), s.getCancels.Load()
	snap.WaitLatency = LatencyHistogram(s.waitLatency.Snapshot())
	snap.DialLatency = LatencyHistogram(s.dialLatency.Snapshot())
	snap.CommandLatency = LatencyHistogram(s.commandLatency.Snapshot())
	snap.CommandErrors = s.commandErrors.Load()
	return snap
}

// countGetAbort counts a Get that failed because its deadline passed or
// its context was canceled; other errors are not counted.
func (s *poolStats) countGetAbort(cause error) {
	switch {
	case errors.Is(cause, context.Canceled):
		s.getCancels.Add(1)
	case errors.Is(cause, context.DeadlineExceeded):
		s.getTimeouts.Add(1)
	}
}
