package providers

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/wire"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"

	"github.com/sshpool/sshpool/featureflags"
)

// FlagsShutdownTimeout bounds the flags cleanup's Shutdown.
const FlagsShutdownTimeout = 5 * time.Second

// FlagsSet provides the flag provider, a metrics hook, the isolated
// OpenFeature API (featureflags.Flags), its EvaluationAPI and its client
// (bound to openfeature.IClient).
var FlagsSet = wire.NewSet(
	NewFlagProvider,
	NewMetricsHook,
	NewFlags,
	NewFlagsAPI,
	NewFlagsClient,
	wire.Bind(new(openfeature.IClient), new(*openfeature.Client)),
)

// NewFlagProvider returns the flag provider: a featureflags.Provider on
// cfg.Source when set, else on the flag file cfg.Path. It reads and
// validates the source's document here (the one I/O a provider in this
// package does, so that a bad document fails the graph) and follows changes
// only once set on the API. With neither it returns an empty in-memory
// provider: every flag is unknown, so every call routes to legacy.
func NewFlagProvider(cfg FlagsConfig, logger *slog.Logger) (openfeature.FeatureProvider, error) {
	var opts []featureflags.ProviderOption
	if cfg.KillSwitchEnv != "" {
		opts = append(opts, featureflags.WithKillSwitchEnv(cfg.KillSwitchEnv))
	}
	if cfg.MaxBytes > 0 {
		opts = append(opts, featureflags.WithMaxDocumentBytes(cfg.MaxBytes))
	}
	if logger != nil {
		opts = append(opts, featureflags.WithLogger(logger))
	}
	switch {
	case cfg.Source != nil:
		return featureflags.NewProvider(cfg.Source, opts...)
	case cfg.Path == "":
		return memprovider.NewInMemoryProvider(nil), nil
	}
	fileOpts := make([]featureflags.FileProviderOption, 0, len(opts)+2)
	for _, o := range opts {
		fileOpts = append(fileOpts, o)
	}
	if cfg.PollInterval > 0 {
		fileOpts = append(fileOpts, featureflags.WithPollInterval(cfg.PollInterval))
	}
	if cfg.Debounce > 0 {
		fileOpts = append(fileOpts, featureflags.WithDebounce(cfg.Debounce))
	}
	return featureflags.NewFileProvider(cfg.Path, fileOpts...)
}

// NewMetricsHook returns the hook that counts evaluations for /metrics.
func NewMetricsHook() *featureflags.MetricsHook { return featureflags.NewMetricsHook() }

// NewFlags returns an isolated OpenFeature API on provider with the metrics
// hook and obs.FlagHooks. It does no I/O; the provider is set (and a file watched) by
// Flags.Start. The cleanup shuts the API down, bounded by
// FlagsShutdownTimeout.
func NewFlags(provider openfeature.FeatureProvider, hook *featureflags.MetricsHook, obs Observers) (*featureflags.Flags, func(), error) {
	f := featureflags.NewFlags(provider, append([]openfeature.Hook{hook}, obs.FlagHooks...)...)
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), FlagsShutdownTimeout)
		defer cancel()
		f.Shutdown(ctx)
	}
	return f, cleanup, nil
}

// NewFlagsAPI returns the isolated API of f (for event handlers).
func NewFlagsAPI(f *featureflags.Flags) *openfeature.EvaluationAPI { return f.API() }

// NewFlagsClient returns the client of f.
func NewFlagsClient(f *featureflags.Flags) *openfeature.Client { return f.Client() }
