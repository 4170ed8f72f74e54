package legacy

import (
	"sync/atomic"
	"time"

	"github.com/sshpool/sshpool/internal/latency"
	"github.com/sshpool/sshpool/pool"
)

// PoolStats is a snapshot of a ConnectionPool's activity, the figures the
// new pool's Snapshot has for the same things, so that the two pools can
// be compared side by side (the same metric families with pool="legacy"
// and pool="new"). Gauges are read when Stats is called; counts are
// cumulative since NewConnectionPool.
type PoolStats struct {
	// Connections counts connections in the map: Active those usable with
	// a command running, Idle those usable without one, Unhealthy the rest
	// (failed a health check or lost, not yet replaced or swept). InUse
	// counts the commands running now.
	Connections, Active, Idle, Unhealthy, InUse int
	// Dials counts finished dials, DialFailures those that failed;
	// DialLatency is their distribution (pool.LatencyBuckets).
	Dials, DialFailures int64
	DialLatency         pool.LatencyHistogram
	// Commands counts commands run (ExecuteCommand and
	// ExecuteCommandStream), CommandErrors those that failed, for any
	// reason, a non-zero exit included; CommandLatency is their
	// distribution. Health checks are not commands here.
	Commands, CommandErrors int64
	CommandLatency          pool.LatencyHistogram
	// HealthChecks counts health commands run by TestHealth (the ticker's
	// or a caller's), HealthFailures those that failed.
	HealthChecks, HealthFailures int64
}

// poolStats holds a ConnectionPool's counters: atomics and lock-free
// latency recorders, shared with its connections.
type poolStats struct {
	dialFailures   atomic.Int64
	dialLatency    latency.Recorder // Count is the number of dials
	commandErrors  atomic.Int64
	commandLatency latency.Recorder // Count is the number of commands
	healthChecks   atomic.Int64
	healthFailures atomic.Int64
}

// observeDial records a finished dial.
func (s *poolStats) observeDial(d time.Duration, err error) {
	s.dialLatency.Observe(d)
	if err != nil {
		s.dialFailures.Add(1)
	}
}

// observeCommand records a finished command.
func (s *poolStats) observeCommand(d time.Duration, err error) {
	s.commandLatency.Observe(d)
	if err != nil {
		s.commandErrors.Add(1)
	}
}

// observeHealth records a finished health check.
func (s *poolStats) observeHealth(err error) {
	s.healthChecks.Add(1)
	if err != nil {
		s.healthFailures.Add(1)
	}
}

// Stats returns the pool's current statistics. On the singleton it
// reports the legacy pool itself, whatever provider is installed.
func (p *ConnectionPool) Stats() PoolStats {
	var out PoolStats
	for _, c := range p.snapshot() {
		n := c.inUseCount()
		out.Connections++
		out.InUse += n
		switch {
		case !c.usable():
			out.Unhealthy++
		case n > 0:
			out.Active++
		default:
			out.Idle++
		}
	}
	s := &p.stats
	out.DialLatency = pool.LatencyHistogram(s.dialLatency.Snapshot())
	out.CommandLatency = pool.LatencyHistogram(s.commandLatency.Snapshot())
	out.Dials, out.DialFailures = out.DialLatency.Count, s.dialFailures.Load()
	out.Commands, out.CommandErrors = out.CommandLatency.Count, s.commandErrors.Load()
	out.HealthChecks, out.HealthFailures = s.healthChecks.Load(), s.healthFailures.Load()
	return out
}
