// Package metrics exposes sshpool's statistics to Prometheus through a
// prometheus.Collector (github.com/prometheus/client_golang).
//
// The Collector keeps no state of its own: at every scrape it reads the
// snapshots the components already keep, lock-free (the new pool's
// pool.Snapshot, the legacy pool's legacy.PoolStats, the router's
// legacy.RouterStats, the flag evaluation counters of a
// featureflags.MetricsHook and a FileProvider's reload counters), and turns
// them into constant metrics. Register it in any registry, yours or a
// private one; it does not need fx:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(metrics.Sources{Pool: p}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Families
//
// Names follow Prometheus conventions: prefix sshpool_, base units
// (seconds), counters end in _total. The pool families carry a label pool,
// "new" or "legacy", so the two pools of a migration can be compared with
// one query; families that only one pool has carry only that value.
//
//	sshpool_connections{pool,state}            gauge: open connections; state active, idle, unhealthy, draining (new)
//	sshpool_dials_in_flight{pool}              gauge: dials running (new)
//	sshpool_max_connections{pool}              gauge: configured pool-wide limit (new)
//	sshpool_in_use{pool}                       gauge: leases held (new) or commands running (legacy)
//	sshpool_get_waiting{pool}                  gauge: Gets waiting now (new)
//	sshpool_gets_total{pool}                   counter: leases granted (new)
//	sshpool_get_hits_total{pool}               counter: Gets served at once from an existing connection (new)
//	sshpool_get_misses_total{pool}             counter: dials started because a Get found no free slot (new)
//	sshpool_get_timeouts_total{pool}           counter: Gets that gave up at a deadline (new)
//	sshpool_get_cancellations_total{pool}      counter: Gets whose context was canceled (new)
//	sshpool_get_wait_seconds{pool}             histogram: time waited by Gets that waited (new)
//	sshpool_dial_duration_seconds{pool}        histogram: dials, failures included
//	sshpool_dial_failures_total{pool}          counter: failed dials
//	sshpool_command_duration_seconds{pool}     histogram: commands, failures included
//	sshpool_command_errors_total{pool}         counter: failed commands (non-zero exit included)
//	sshpool_health_checks_total{pool}          counter: health probes (new: keepalives; legacy: the health command)
//	sshpool_health_check_failures_total{pool}  counter: failed health probes
//	sshpool_connections_created_total{pool}    counter: connections dialled into the pool (new)
//	sshpool_connections_closed_total{pool,reason} counter: connections closed, by reason (new)
//	sshpool_run_retries_total{pool}            counter: commands run again after their connection was found dead before they started (new)
//	sshpool_session_limit_retries_total{pool}  counter: commands opened again after the server refused their session at its limit (new)
//	sshpool_replacements_total{pool}           counter: background dials replacing lost connections (new)
//	sshpool_circuit_opens_total{pool}          counter: times a server's circuit breaker opened (new)
//	sshpool_warmup_failures_total{pool}        counter: failed warm-up dials (new)
//	sshpool_leaks_total{pool}                  counter: leases reported held past the leak threshold (new)
//	sshpool_misuse_total{pool}                 counter: double releases, foreign clients, use after release (new)
//
//	sshpool_router_decisions_total{pool,reason} counter: routing decisions by chosen pool and reason
//	sshpool_router_fallbacks_total             counter: decisions routed to legacy because evaluation failed
//	sshpool_router_route_changes_total         counter: servers whose route changed
//	sshpool_router_drained_total               counter: idle connections dropped by the pool that lost a server
//
//	sshpool_flag_evaluations_total{flag,reason,variant,error_code} counter: flag evaluations
//	sshpool_flag_evaluation_errors_total       counter: evaluations that ended with an error
//	sshpool_flag_rule_errors_total{flag}       counter: documents loaded with that flag's rule in error
//	sshpool_flag_reloads_total                 counter: flag file reloads that replaced the flags
//	sshpool_flag_reload_errors_total           counter: flag file reloads refused (unreadable or invalid file)
//	sshpool_flags                              gauge: flags in force
//	sshpool_flag_source_connected              gauge: 1 while flag changes arrive, 0 while the source (etcd) is lost
//
// The histograms share the buckets of pool.LatencyBuckets (100 µs to 60 s,
// 1-2.5-5 per decade); their documentation says why.
//
// # Label values
//
// Flag keys and variants come from flag files, which anyone who deploys a
// file controls. A label value that is not valid UTF-8 is rejected by
// client_golang and would fail the whole scrape, so such bytes are replaced
// by U+FFFD; series whose values then coincide are added together. Tabs,
// non-breaking spaces and other valid characters are kept and escaped by the
// exposition format.
package metrics
