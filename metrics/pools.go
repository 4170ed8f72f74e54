package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// collectPool sends the new pool's families, pool="new".
func (c *Collector) collectPool(ch chan<- prometheus.Metric, s pool.Snapshot) {
	d := &c.d
	for _, st := range []struct {
		state string
		n     int
	}{{"active", s.Active}, {"idle", s.Idle}, {"unhealthy", s.Unhealthy}, {"draining", s.Draining}} {
		gauge(ch, d.connections, int64(st.n), PoolNew, st.state)
	}
	gauge(ch, d.dialsInFlight, int64(s.Dialing), PoolNew)
	gauge(ch, d.maxConnections, int64(s.MaxConnections), PoolNew)
	gauge(ch, d.inUse, s.LeasesOutstanding, PoolNew)
	gauge(ch, d.getWaiting, int64(s.Waiting), PoolNew)
	for _, m := range []struct {
		d *prometheus.Desc
		v int64
	}{
		{d.gets, s.Gets}, {d.getHits, s.Hits}, {d.getMisses, s.Misses},
		{d.getTimeouts, s.GetTimeouts}, {d.getCancels, s.GetCancellations},
		{d.dialFailures, s.DialFailures}, {d.commandErrors, s.CommandErrors},
		{d.healthChecks, s.HealthChecks}, {d.healthFailures, s.HealthFailures},
		{d.created, s.Created}, {d.runRetries, s.RunRetries}, {d.sessionLimitRetries, s.SessionLimitRetries},
		{d.replacements, s.Replacements},
		{d.circuitOpens, s.CircuitOpens}, {d.warmupFailures, s.WarmupFailures},
		{d.leaks, s.Leaks}, {d.misuse, s.Misuse},
	} {
		counter(ch, m.d, m.v, PoolNew)
	}
	for r, n := range s.ClosedByReason {
		counter(ch, d.closed, n, PoolNew, string(r))
	}
	c.histogram(ch, d.getWait, s.WaitLatency, PoolNew)
	c.histogram(ch, d.dialDuration, s.DialLatency, PoolNew)
	c.histogram(ch, d.commandDuration, s.CommandLatency, PoolNew)
}

// collectLegacy sends the legacy pool's families, pool="legacy".
func (c *Collector) collectLegacy(ch chan<- prometheus.Metric, s legacy.PoolStats) {
	d := &c.d
	gauge(ch, d.connections, int64(s.Active), PoolLegacy, "active")
	gauge(ch, d.connections, int64(s.Idle), PoolLegacy, "idle")
	gauge(ch, d.connections, int64(s.Unhealthy), PoolLegacy, "unhealthy")
	gauge(ch, d.inUse, int64(s.InUse), PoolLegacy)
	counter(ch, d.dialFailures, s.DialFailures, PoolLegacy)
	counter(ch, d.commandErrors, s.CommandErrors, PoolLegacy)
	counter(ch, d.healthChecks, s.HealthChecks, PoolLegacy)
	counter(ch, d.healthFailures, s.HealthFailures, PoolLegacy)
	c.histogram(ch, d.dialDuration, s.DialLatency, PoolLegacy)
	c.histogram(ch, d.commandDuration, s.CommandLatency, PoolLegacy)
}
