package providers

import (
	"log/slog"

	"github.com/google/wire"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// TracerSet provides the pool's tracer.
var TracerSet = wire.NewSet(NewTracer)

// Observers are hooks a host adds to the components, typically an
// OpenTelemetry implementation (module otelsshpool) beside the slog
// logging of Config.Logger. The zero value adds nothing.
type Observers struct {
	// Tracer holds pool hooks combined with the slog tracer's (when there
	// is a logger) through pool.MultiTracer.
	Tracer *pool.Tracer
	// DecisionHook is called after every routing decision
	// (legacy.WithDecisionHook): fast, non-blocking, on the deciding
	// goroutine.
	DecisionHook func(legacy.Decision)
	// FlagHooks are OpenFeature hooks added to the flags API, run around
	// every flag evaluation.
	FlagHooks []openfeature.Hook
}

// NewTracer returns the pool's tracer: a slog tracer on logger combined
// with obs.Tracer, either alone when the other is missing, or nil (free on
// the hot path) when both are.
func NewTracer(logger *slog.Logger, obs Observers) *pool.Tracer {
	var slogTracer *pool.Tracer
	if logger != nil {
		slogTracer = pool.NewSlogTracer(logger)
	}
	return pool.MultiTracer(slogTracer, obs.Tracer)
}
