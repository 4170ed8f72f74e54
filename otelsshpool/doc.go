// Package otelsshpool traces sshpool with OpenTelemetry. It uses only the
// OpenTelemetry API (go.opentelemetry.io/otel/trace); the SDK, exporters
// and sampling are the application's choice.
//
// A Tracer has pool hooks (Tracer.Pool: every pool.Tracer hook but
// Release), a router decision hook (legacy.WithDecisionHook) and an
// OpenFeature hook. Give its pool hooks to the pool directly, or combine
// them with the slog tracer through pool.MultiTracer:
//
//	t := otelsshpool.NewTracer(otelsshpool.WithTracerProvider(tp))
//	p := pool.NewPool(factory, cfg, pool.MultiTracer(pool.NewSlogTracer(logger), t.Pool()))
//
// In an fx application built on package app, supply t.Observers() and the
// module adds the tracer to the pool, the hook to the router and the
// OpenFeature hook to the flags:
//
//	fx.Supply(t.Observers()), app.Module()
//
// # Spans
//
//	sshpool.get           Pool.Get: sshpool.key; at the end sshpool.conn.id,
//	                      sshpool.get.hit and sshpool.get.wait_seconds (time
//	                      spent waiting for a dial or a slot)
//	sshpool.dial          a dial (kind client): sshpool.key, sshpool.conn.id,
//	                      error.type; a child of the Get that asked for it
//	sshpool.health_check  a health probe: sshpool.key, sshpool.conn.id
//	sshpool.command       a command on a lease (kind client): sshpool.key,
//	                      sshpool.conn.id, process.executable.name,
//	                      process.exit.code; process.command_line only
//	                      with WithCommandLine
//	sshpool.route         a routing decision: sshpool.server.id,
//	                      sshpool.route, sshpool.route.reason,
//	                      feature_flag.key, feature_flag.result.variant;
//	                      it spans the decision's own latency
//
// A failed operation sets the span's status to Error with the error's
// message and error.type to its failure.Kind (auth, timeout, ...). Errors
// of this project never carry secrets.
//
// Events without a caller's context (state change, connection closed,
// misuse, and health events: lost, unhealthy, replacing, circuit changes,
// leak) become a short span of their own, sshpool.event, holding one event
// named for what happened (sshpool.state_change, sshpool.conn_close,
// sshpool.misuse, sshpool.health.<type>, e.g. sshpool.health.leak) with its
// attributes. An eviction is the evicted connection's sshpool.conn_close,
// with sshpool.reason "evicted" and sshpool.evict.strategy naming the
// eviction strategy.
//
// Flag evaluations add a feature_flag.evaluation event (OpenTelemetry's
// feature-flag semantic conventions) to the span in the evaluation's
// context, if one is recording.
//
// # Command lines
//
// A command line's arguments can hold secrets (tokens, passwords), so by
// default only the program name is recorded: the first word that is not a
// VAR=value assignment, without its directory. WithCommandLine records the
// whole line.
package otelsshpool
