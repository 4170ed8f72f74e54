package featureflags_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
)

// startBenchFlags starts an isolated API on a copy of testdata/flags.json,
// whose use-new-pool flag is a 30/70 fractional split.
func startBenchFlags(b *testing.B, hooks ...openfeature.Hook) (*featureflags.FileProvider, *featureflags.Flags) {
	b.Helper()
	return startBenchFlagsWith(b, []featureflags.FileProviderOption{featureflags.WithKillSwitchEnv("SSHPOOL_BENCH_KILL_SWITCH")}, hooks...)
}

func startBenchFlagsWith(b *testing.B, opts []featureflags.FileProviderOption, hooks ...openfeature.Hook) (*featureflags.FileProvider, *featureflags.Flags) {
	b.Helper()
	p := newProvider(b, copyTestdata(b, "flags.json"), opts...)
	flags := featureflags.NewFlags(p, hooks...)
	if err := flags.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = flags.Shutdown(context.Background()) })
	return p, flags
}

// BenchmarkEvaluateUseNewPool measures the router's per-call flag decision: a
// boolean evaluation of use-new-pool (fractional rule) through the
// OpenFeature client with a ServerContext. Goal: ≤ 2 µs.
func BenchmarkEvaluateUseNewPool(b *testing.B) {
	ctx := context.Background()
	ec := featureflags.ServerContext("srv-0042", "web42.prod.example.com", 22, "deploy", false, "web42")
	b.Run("path=client", func(b *testing.B) {
		_, flags := startBenchFlags(b)
		client := flags.Client()
		b.ReportAllocs()
		for b.Loop() {
			client.Boolean(ctx, featureflags.FlagUseNewPool, false, ec)
		}
	})
	b.Run("path=client/parallel", func(b *testing.B) {
		_, flags := startBenchFlags(b)
		client := flags.Client()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				client.Boolean(ctx, featureflags.FlagUseNewPool, false, ec)
			}
		})
	})
	b.Run("path=client/hooks=metrics", func(b *testing.B) {
		_, flags := startBenchFlags(b, featureflags.NewMetricsHook(), featureflags.NewLogHook(nil))
		client := flags.Client()
		b.ReportAllocs()
		for b.Loop() {
			client.Boolean(ctx, featureflags.FlagUseNewPool, false, ec)
		}
	})
	b.Run("path=router", func(b *testing.B) {
		// The router's whole decision (legacy.Router.Decide): both flags,
		// counters, the key's route.
		_, flags := startBenchFlags(b)
		r := legacy.NewRouter(nil, nil, flags.Client())
		defer r.Close()
		server := &legacy.Server{ID: "srv-0042", Host: "web42.prod.example.com", Port: 22, Name: "web42"}
		b.ReportAllocs()
		for b.Loop() {
			r.Decide(ctx, server, false)
		}
	})
	b.Run("path=client/provider=stub", func(b *testing.B) {
		// The OpenFeature SDK's own cost: a provider that does nothing.
		flags := featureflags.NewFlags(stubProvider{})
		if err := flags.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = flags.Shutdown(ctx) }()
		client := flags.Client()
		b.ReportAllocs()
		for b.Loop() {
			client.Boolean(ctx, featureflags.FlagUseNewPool, false, ec)
		}
	})
	b.Run("path=provider", func(b *testing.B) {
		p, _ := startBenchFlags(b)
		flat := openfeature.FlattenedContext{"targetingKey": "srv-0042", "host": "web42.prod.example.com",
			"port": 22, "user": "deploy", "asRoot": false, "serverName": "web42"}
		b.ReportAllocs()
		for b.Loop() {
			p.BooleanEvaluation(ctx, featureflags.FlagUseNewPool, false, flat)
		}
	})
}

// BenchmarkEvaluateCallShape measures one evaluation of use-new-pool
// through the OpenFeature client in each way a caller can hand it the
// server's context, on a flag set without metadata (as the router's flags
// usually are), to show what the SDK's evaluation costs whatever the call
// looks like:
//
//   - shape=details is the router's call: BooleanValueDetails with the
//     ServerContext as the invocation context;
//   - shape=value is BooleanValue, which calls BooleanValueDetails;
//   - shape=client-context sets the ServerContext on the client (a client
//     per server) and passes an empty invocation context;
//   - shape=transaction puts it in the Go context
//     (openfeature.WithTransactionContext);
//   - shape=targeting-key-only passes a context without attributes: the
//     floor, which no rule reading host, user or serverName can use.
//
// The SDK copies the merged context's attributes into a new map three
// times per evaluation (merging the contexts, after the before hooks, and
// flattening for the provider), wherever the attributes come from.
func BenchmarkEvaluateCallShape(b *testing.B) {
	ctx := context.Background()
	path := writeFile(b, b.TempDir(), "flags.json", `{"flags": {
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 30], ["off", 70]]}}}}`)
	flags := featureflags.NewFlags(newProvider(b, path))
	if err := flags.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = flags.Shutdown(ctx) })
	ec := featureflags.ServerContext("srv-0042", "web42.prod.example.com", 22, "deploy", false, "web42")
	perServer := flags.API().NewClient()
	perServer.SetEvaluationContext(ec)
	txn := openfeature.WithTransactionContext(ctx, ec)
	empty := openfeature.EvaluationContext{}
	for _, shape := range []struct {
		name string
		eval func() (bool, error)
	}{
		{"details", func() (bool, error) {
			d, err := flags.Client().BooleanValueDetails(ctx, featureflags.FlagUseNewPool, false, ec)
			return d.Value, err
		}},
		{"value", func() (bool, error) {
			return flags.Client().BooleanValue(ctx, featureflags.FlagUseNewPool, false, ec)
		}},
		{"client-context", func() (bool, error) {
			return perServer.BooleanValue(ctx, featureflags.FlagUseNewPool, false, empty)
		}},
		{"transaction", func() (bool, error) {
			return flags.Client().BooleanValue(txn, featureflags.FlagUseNewPool, false, empty)
		}},
		{"targeting-key-only", func() (bool, error) {
			return flags.Client().BooleanValue(ctx, featureflags.FlagUseNewPool, false, openfeature.NewEvaluationContext("srv-0042", nil))
		}},
	} {
		b.Run("shape="+shape.name, func(b *testing.B) {
			want, err := flags.Client().BooleanValue(ctx, featureflags.FlagUseNewPool, false, ec)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if got, err := shape.eval(); err != nil || got != want {
					b.Fatalf("use-new-pool = %v, %v; want %v (the split by targeting key alone)", got, err, want)
				}
			}
		})
	}
}

// BenchmarkEvaluateIfRule measures a decision by a rule that is not a bare
// split, so it runs through JSONLogic: the migration guide's canary
// allow-list with a split for the rest ({"if": [{"in": ...}, "on",
// {"fractional": ...}]}), for a server on the allow-list and one that is not.
func BenchmarkEvaluateIfRule(b *testing.B) {
	ctx := context.Background()
	path := writeFile(b, b.TempDir(), "flags.json", `{"flags": {
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["web-1", "web-7"]]}, "on", {"fractional": [["on", 10], ["off", 90]]}]}}}}`)
	p := newProvider(b, path)
	for _, server := range []string{"web-1", "srv-0042"} {
		flat := openfeature.FlattenedContext{"targetingKey": server, "host": "web42.prod.example.com",
			"port": 22, "user": "deploy", "asRoot": false, "serverName": "web42"}
		b.Run("server="+server, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.BooleanEvaluation(ctx, featureflags.FlagUseNewPool, false, flat)
			}
		})
	}
}

// BenchmarkKillSwitch measures the kill switch (provider only) without the
// environment override, with it configured but unset (falls through to the
// file), and set.
func BenchmarkKillSwitch(b *testing.B) {
	ctx := context.Background()
	for _, env := range []string{"none", "unset", "true"} {
		b.Run("env="+env, func(b *testing.B) {
			var opts []featureflags.FileProviderOption
			if env != "none" {
				opts = append(opts, featureflags.WithKillSwitchEnv("SSHPOOL_BENCH_KILL_SWITCH"))
			}
			if env == "true" {
				b.Setenv("SSHPOOL_BENCH_KILL_SWITCH", env)
			}
			p, _ := startBenchFlagsWith(b, opts)
			b.ReportAllocs()
			for b.Loop() {
				p.BooleanEvaluation(ctx, featureflags.FlagKillSwitch, false, nil)
			}
		})
	}
}

// stubProvider resolves every boolean to true, statically.
type stubProvider struct{ openfeature.NoopProvider }

func (stubProvider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: "stub"} }

func (stubProvider) BooleanEvaluation(context.Context, string, bool, openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return openfeature.BoolResolutionDetail{Value: true, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{Reason: openfeature.StaticReason, Variant: "on"}}
}

// largeDocument returns a flag document of about size bytes: flags with
// a fractional rollout, an allow-list and metadata, as a big fleet's file
// would hold.
func largeDocument(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"flags": {`)
	for i := 0; b.Len() < size-400; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `"flag-%06d": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
  "targeting": {"if": [{"in": [{"var": "targetingKey"}, ["srv-%d", "srv-%d", "srv-%d"]]}, "on", {"fractional": [["on", %d], ["off", %d]]}]},
  "metadata": {"owner": "team-%d", "ticket": "OPS-%d"}}`, i, i, i+1, i+2, i%100, 100-i%100, i%17, i)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// BenchmarkLoadLargeDocument loads a document just under the default cap
// (DefaultMaxDocumentBytes), about 14,000 flags with rules, and reports the
// time to load it and the heap a provider retains for it, in bytes and as a
// multiple of the document's size (retained/size): memory stays
// proportional to the document, and the cap bounds it.
func BenchmarkLoadLargeDocument(b *testing.B) {
	data := largeDocument(featureflags.DefaultMaxDocumentBytes - 1024)
	path := writeFile(b, b.TempDir(), "flags.json", string(data))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := featureflags.NewFileProvider(path)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	retained := after.HeapAlloc - before.HeapAlloc
	b.ReportAllocs()
	for b.Loop() {
		if _, err := featureflags.NewFileProvider(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "size-B")
	b.ReportMetric(float64(retained), "retained-B")
	b.ReportMetric(float64(retained)/float64(len(data)), "retained/size")
}
