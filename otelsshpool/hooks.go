package otelsshpool

import (
	"context"
	"strings"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/providers"
)

// Attribute keys of routing decisions and flag evaluations (the latter
// from OpenTelemetry's feature-flag semantic conventions).
const (
	KeyServerID     = attribute.Key("sshpool.server.id")
	KeyRoute        = attribute.Key("sshpool.route")
	KeyRouteReason  = attribute.Key("sshpool.route.reason")
	KeyFlagKey      = attribute.Key("feature_flag.key")
	KeyFlagVariant  = attribute.Key("feature_flag.result.variant")
	KeyFlagReason   = attribute.Key("feature_flag.result.reason")
	KeyFlagProvider = attribute.Key("feature_flag.provider.name")
)

// Decision records a routing decision as an sshpool.route span covering
// the decision's latency. Pass it to legacy.WithDecisionHook (or through
// Observers).
func (t *Tracer) Decision(d legacy.Decision) {
	end := time.Now()
	_, span := t.tracer.Start(context.Background(), "sshpool.route", trace.WithTimestamp(end.Add(-d.Latency)))
	if span.IsRecording() {
		span.SetAttributes(KeyRoute.String(d.Route.String()), KeyRouteReason.String(d.Reason.String()),
			KeyFlagKey.String(d.Flag), KeyFlagVariant.String(d.Variant))
		if d.Server != nil {
			span.SetAttributes(KeyServerID.String(d.Server.ID))
		}
		setError(span, d.Err)
	}
	span.End(trace.WithTimestamp(end))
}

// FlagHook returns an OpenFeature hook that adds a feature_flag.evaluation
// event to the span recording in the evaluation's context, if any. The
// evaluation context's attributes (host names, user names) are not
// recorded. Reasons and error codes are lower-cased, as the semantic
// conventions' well-known values are and as OpenFeature's own telemetry
// helper (openfeature/telemetry) writes them: "targeting_match",
// "flag_not_found".
func (t *Tracer) FlagHook() openfeature.Hook { return flagHook{} }

type flagHook struct{ openfeature.UnimplementedHook }

// Finally adds the event after every evaluation, errors included.
func (flagHook) Finally(ctx context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	reason := openfeature.UnknownReason
	if d.Reason != "" {
		reason = d.Reason
	}
	attrs := []attribute.KeyValue{KeyFlagKey.String(hc.FlagKey()), KeyFlagProvider.String(hc.ProviderMetadata().Name),
		KeyFlagReason.String(strings.ToLower(string(reason)))}
	if d.Variant != "" {
		attrs = append(attrs, KeyFlagVariant.String(d.Variant))
	}
	if d.ErrorCode != "" {
		attrs = append(attrs, KeyErrorType.String(strings.ToLower(string(d.ErrorCode))))
	}
	span.AddEvent("feature_flag.evaluation", trace.WithAttributes(attrs...))
}

// Observers returns the tracer as providers.Observers: the pool hooks
// (Pool), the router's decision hook and the flag hook, for package app's
// module (fx.Supply(t.Observers())) or providers.Config.
func (t *Tracer) Observers() providers.Observers {
	return providers.Observers{Tracer: t.Pool(), DecisionHook: t.Decision, FlagHooks: []openfeature.Hook{t.FlagHook()}}
}
