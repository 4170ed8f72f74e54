package featureflags

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
)

// Flags owns an isolated OpenFeature API (never the global singleton) with one
// provider and a client. Create it with [NewFlags], call Start before
// evaluating and Shutdown at the end; it is single-use (an API cannot be
// restarted after Shutdown). Its methods are safe for concurrent use.
type Flags struct {
	api      *openfeature.EvaluationAPI
	client   *openfeature.Client
	provider openfeature.FeatureProvider
}

// NewFlags creates an isolated OpenFeature API with hooks attached at API level
// (e.g. a [MetricsHook] and a [LogHook]) and a client. It does no I/O and starts
// no goroutine; until Start, the API's provider is OpenFeature's no-op
// provider, so evaluations return the caller's default (reason DEFAULT).
func NewFlags(provider openfeature.FeatureProvider, hooks ...openfeature.Hook) *Flags {
	api := isolated.NewAPI()
	api.AddHooks(hooks...)
	return &Flags{api: api, client: api.NewClient(), provider: provider}
}

// Start sets the provider and waits for its initialisation (for a
// [FileProvider], until it watches the file), bounded by ctx.
func (f *Flags) Start(ctx context.Context) error {
	if err := f.api.SetProviderAndWait(ctx, f.provider); err != nil {
		return fmt.Errorf("featureflags: start provider: %w", err)
	}
	return nil
}

// Shutdown shuts the provider down (stopping a [FileProvider]'s watcher) and
// releases the API's event goroutines, bounded by ctx.
func (f *Flags) Shutdown(ctx context.Context) error {
	return f.api.Shutdown(ctx)
}

// Client returns the client, an [openfeature.IClient] suitable for injection.
func (f *Flags) Client() *openfeature.Client { return f.client }

// API returns the isolated API, e.g. to add event handlers.
func (f *Flags) API() *openfeature.EvaluationAPI { return f.api }
