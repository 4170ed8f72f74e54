package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the Collector's metric descriptors, one per family.
type descs struct {
	all []*prometheus.Desc

	connections, dialsInFlight, maxConnections, inUse, getWaiting    *prometheus.Desc
	gets, getHits, getMisses, getTimeouts, getCancels, getWait       *prometheus.Desc
	dialDuration, dialFailures, commandDuration, commandErrors       *prometheus.Desc
	healthChecks, healthFailures, created, closed, runRetries        *prometheus.Desc
	sessionLimitRetries                                              *prometheus.Desc
	replacements, circuitOpens, warmupFailures, leaks, misuse        *prometheus.Desc
	decisions, fallbacks, routeChanges, drained                      *prometheus.Desc
	evaluations, evaluationErrors, ruleErrors, reloads, reloadErrors *prometheus.Desc
	flags, sourceConnected                                           *prometheus.Desc
}

// newDescs builds every descriptor with the given constant labels.
func newDescs(constLabels prometheus.Labels) descs {
	var d descs
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		pd := prometheus.NewDesc("sshpool_"+name, help, labels, constLabels)
		d.all = append(d.all, pd)
		return pd
	}
	d.connections = desc("connections", "Open connections by state.", "pool", "state")
	d.dialsInFlight = desc("dials_in_flight", "Dials running now.", "pool")
	d.maxConnections = desc("max_connections", "Configured pool-wide connection limit.", "pool")
	d.inUse = desc("in_use", "Leases held (new pool) or commands running (legacy pool) now.", "pool")
	d.getWaiting = desc("get_waiting", "Gets waiting for a lease now.", "pool")
	d.gets = desc("gets_total", "Leases granted.", "pool")
	d.getHits = desc("get_hits_total", "Gets served at once from an existing connection.", "pool")
	d.getMisses = desc("get_misses_total", "Dials started because a Get found no connection with a free slot.", "pool")
	d.getTimeouts = desc("get_timeouts_total", "Gets that failed because a deadline passed before a lease was free.", "pool")
	d.getCancels = desc("get_cancellations_total", "Gets that failed because their context was canceled.", "pool")
	d.getWait = desc("get_wait_seconds", "Time waited by Gets that waited for a dial or a slot, served or not.", "pool")
	d.dialDuration = desc("dial_duration_seconds", "Duration of finished dials, failures included.", "pool")
	d.dialFailures = desc("dial_failures_total", "Dials that failed.", "pool")
	d.commandDuration = desc("command_duration_seconds", "Duration of commands on their connection, failures included.", "pool")
	d.commandErrors = desc("command_errors_total", "Commands that failed, a non-zero exit included.", "pool")
	d.healthChecks = desc("health_checks_total", "Health probes run.", "pool")
	d.healthFailures = desc("health_check_failures_total", "Health probes that failed.", "pool")
	d.created = desc("connections_created_total", "Connections dialled into the pool.", "pool")
	d.closed = desc("connections_closed_total", "Connections closed, by reason.", "pool", "reason")
	d.runRetries = desc("run_retries_total", "Commands run again on another connection because theirs was found dead before they started.", "pool")
	d.sessionLimitRetries = desc("session_limit_retries_total", "Commands whose session the server refused at its session limit, opened again.", "pool")
	d.replacements = desc("replacements_total", "Background dials replacing unhealthy or lost connections.", "pool")
	d.circuitOpens = desc("circuit_opens_total", "Times a server's circuit breaker opened because its dials kept failing.", "pool")
	d.warmupFailures = desc("warmup_failures_total", "Warm-up dials that failed.", "pool")
	d.leaks = desc("leaks_total", "Leases reported as held past the leak threshold.", "pool")
	d.misuse = desc("misuse_total", "Double releases, foreign or nil clients and uses of released leases.", "pool")
	d.decisions = desc("router_decisions_total", "Routing decisions by chosen pool and reason.", "pool", "reason")
	d.fallbacks = desc("router_fallbacks_total", "Decisions routed to the legacy pool because flag evaluation failed.")
	d.routeChanges = desc("router_route_changes_total", "Servers whose route changed between two decisions.")
	d.drained = desc("router_drained_total", "Idle connections dropped by the pool that lost a server's traffic.")
	d.evaluations = desc("flag_evaluations_total", "Flag evaluations by flag, reason, variant and error code.", "flag", "reason", "variant", "error_code")
	d.evaluationErrors = desc("flag_evaluation_errors_total", "Flag evaluations that ended with an error.")
	d.ruleErrors = desc("flag_rule_errors_total", "Flag documents loaded with a targeting rule that has errors (the flag evaluates to its default), by flag.", "flag")
	d.reloads = desc("flag_reloads_total", "Flag file reloads that replaced the flags.")
	d.reloadErrors = desc("flag_reload_errors_total", "Flag file reloads refused: unreadable or invalid file.")
	d.flags = desc("flags", "Flags in force.")
	d.sourceConnected = desc("flag_source_connected", "1 while the flag source follows its document, 0 while changes cannot arrive (the flags in force are kept).")
	return d
}
