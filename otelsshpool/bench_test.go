package otelsshpool_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sshpool/sshpool/otelsshpool"
	"github.com/sshpool/sshpool/pool"
)

// BenchmarkGetRelease measures the pool's hit path (Get + Release of a
// warm connection to an in-process sshtest server) with each tracer:
// none or a pool.Tracer with no hook set (the pool skips tracing: 1
// allocation, its lease), this package's
// tracer on OpenTelemetry's no-op provider, on the SDK with a sampler that
// drops every span, and on the SDK recording every span (no exporter:
// the cost of the spans themselves).
func BenchmarkGetRelease(b *testing.B) {
	for _, tc := range []struct {
		name   string
		tracer func(b *testing.B) *pool.Tracer
	}{
		{"tracer=none", func(*testing.B) *pool.Tracer { return nil }},
		{"tracer=pool-empty", func(*testing.B) *pool.Tracer { return &pool.Tracer{} }},
		{"tracer=otel-noop-provider", func(*testing.B) *pool.Tracer {
			return otelsshpool.NewTracer(otelsshpool.WithTracerProvider(noop.NewTracerProvider())).Pool()
		}},
		{"tracer=otel-sdk-unsampled", func(b *testing.B) *pool.Tracer { return sdkTracer(b, sdktrace.NeverSample()) }},
		{"tracer=otel-sdk-sampled", func(b *testing.B) *pool.Tracer { return sdkTracer(b, sdktrace.AlwaysSample()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := newPool(b, pool.PoolConfig{}, tc.tracer(b))
			ctx := context.Background()
			c, err := p.Get(ctx, "web") // dial once
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Release("web", c)
			b.ReportAllocs()
			for b.Loop() {
				c, err := p.Get(ctx, "web")
				if err != nil {
					b.Fatal(err)
				}
				_ = p.Release("web", c)
			}
		})
	}
}

func sdkTracer(b *testing.B, s sdktrace.Sampler) *pool.Tracer {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	return otelsshpool.NewTracer(otelsshpool.WithTracerProvider(tp)).Pool()
}
