package featureflags

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// ProviderName is the name a [Provider] reports in its metadata and events.
const ProviderName = "sshpool-flagd"

// Defaults of the provider's options.
const (
	// DefaultDebounce is how long a flag file must be quiet after a change
	// before it is reloaded.
	DefaultDebounce = 100 * time.Millisecond

	// DefaultMaxDocumentBytes caps the size of a flag document (4 MiB): a
	// larger one is refused, and a flag file is not even read past it. A
	// flag document is typically a few kilobytes; see WithMaxDocumentBytes.
	DefaultMaxDocumentBytes = 4 << 20

	// DefaultReadTimeout bounds one read of a flag file.
	DefaultReadTimeout = 5 * time.Second

	// eventBuffer is the capacity of the event channel; sends never block and
	// events beyond it are dropped (and counted).
	eventBuffer = 16
)

// Interface checks.
var (
	_ openfeature.FeatureProvider          = (*Provider)(nil)
	_ openfeature.ContextAwareStateHandler = (*Provider)(nil)
	_ openfeature.EventHandler             = (*Provider)(nil)
)

// Provider is an OpenFeature provider that evaluates flags in flagd's
// flag-definition format (JSON or YAML) in-process, taking its documents
// from a [Source]: a flag file ([NewFileProvider]) or any other source
// ([NewProvider]).
//
// The source's document is read and validated at construction, so a bad
// document is reported there; no goroutine is started. Following changes
// starts in Init (or InitWithContext, called by the OpenFeature API when the
// provider is set) and stops in Shutdown. Every document, from the first on,
// goes through one path: decode, validate, swap the flags atomically, emit
// events. Only a valid document replaces the flags. Evaluations are
// lock-free and never wait on the source: the current flags live behind an
// atomic pointer.
//
// A Provider can be bound to one OpenFeature API at a time.
type Provider struct {
	src Source
	cfg providerConfig

	flags atomic.Pointer[flagSet]      // current valid flags; never nil after construction
	doc   atomic.Pointer[DocumentInfo] // the document in force; never nil after construction

	events chan openfeature.Event // buffered; sends are non-blocking, never closed

	envMeta openfeature.FlagMetadata // metadata of an environment override; immutable

	// reloadMu serialises the shared path (Reload, and the Sink calls of
	// the source) and guards goodSum, badSum, lastErr, failing and health.
	// It is held across a Reload's read, which the source bounds in time.
	reloadMu sync.Mutex
	goodSum  [32]byte     // SHA-256 of the document in force
	badSum   *[32]byte    // SHA-256 of the last refused document, nil if none
	lastErr  error        // error of the last attempt; nil after a success
	failing  bool         // a ProviderError was emitted and no ProviderReady since
	health   SourceHealth // last health the source reported

	// lifeMu guards started. Lock order: lifeMu before reloadMu.
	lifeMu  sync.Mutex
	started bool

	reloads       atomic.Int64
	reloadErrors  atomic.Int64
	droppedEvents atomic.Int64
	lastErrMsg    atomic.Pointer[string]       // message of lastErr, for Stats without the lock
	healthNow     atomic.Pointer[SourceHealth] // health, for Stats without the lock

	// ruleErrors counts, per flag, the documents that put a rule with
	// errors in force. Copy-on-write under reloadMu; read without a lock.
	ruleErrors atomic.Pointer[map[string]*atomic.Int64]
}

// MaxRuleErrorSeries bounds the number of flags [ProviderStats.RuleErrors]
// counts separately; the rest are counted under the key "".
const MaxRuleErrorSeries = 1024

// FileProvider is the name this package gave [Provider] when it read only
// flag files; [NewFileProvider] still returns one.
type FileProvider = Provider

// providerConfig holds the provider's options.
type providerConfig struct {
	logger    *slog.Logger
	killEnv   string
	maxBytes  int64
	now       func() time.Time
	lookupEnv func(string) (string, bool)
}

// ProviderOption configures a [Provider]. Every ProviderOption is also a
// [FileProviderOption].
type ProviderOption func(*providerConfig)

func (o ProviderOption) applyFileProvider(c *fileProviderConfig) { o(&c.provider) }

// FileProviderOption configures [NewFileProvider]: a [ProviderOption] or a
// [FileSourceOption].
type FileProviderOption interface {
	applyFileProvider(*fileProviderConfig)
}

// fileProviderConfig is what NewFileProvider's options configure.
type fileProviderConfig struct {
	provider providerConfig
	source   fileSourceConfig
}

// WithLogger sets the logger for reload results and source errors.
// Default: a logger that discards everything. Flag values and evaluation
// contexts are never logged.
func WithLogger(l *slog.Logger) ProviderOption {
	return func(c *providerConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithKillSwitchEnv makes [FlagKillSwitch] resolve to the boolean value of the
// environment variable name (as strconv.ParseBool reads it) with reason STATIC
// and variant "env", whatever the document says, for an operator without
// access to the flag source. The variable is read at every evaluation of the
// kill switch; an unset or non-boolean value leaves the document in charge.
// Default: no override. [DefaultKillSwitchEnv] is the conventional name.
func WithKillSwitchEnv(name string) ProviderOption {
	return func(c *providerConfig) { c.killEnv = name }
}

// WithMaxDocumentBytes caps the size of a document the provider accepts, in
// bytes: a larger one is refused (wrapping [ErrDocumentTooLarge]) and the
// previous flags stay. With [NewFileProvider] it also caps the file read, so
// a flag file is never read past it. Zero or negative means
// [DefaultMaxDocumentBytes].
func WithMaxDocumentBytes(n int64) ProviderOption {
	return func(c *providerConfig) { c.maxBytes = n }
}

// newProviderConfig returns the defaults with opts applied.
func newProviderConfig(opts []ProviderOption) providerConfig {
	c := defaultProviderConfig()
	for _, o := range opts {
		o(&c)
	}
	return c.normalized()
}

func defaultProviderConfig() providerConfig {
	return providerConfig{
		logger:    slog.New(slog.DiscardHandler),
		now:       time.Now,
		lookupEnv: os.LookupEnv,
	}
}

func (c providerConfig) normalized() providerConfig {
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxDocumentBytes
	}
	return c
}

// NewProvider reads src's document and returns a provider serving it. A
// document that cannot be read, or is invalid, is an error (wrapping
// [ErrInvalidFlagFile] when invalid): the constructor does this one read,
// bounded by the source's limits, so that a broken deployment fails at
// start-up; it starts no goroutine.
func NewProvider(src Source, opts ...ProviderOption) (*Provider, error) {
	return newProvider(src, newProviderConfig(opts))
}

func newProvider(src Source, cfg providerConfig) (*Provider, error) {
	doc, err := src.Read(context.Background())
	if err != nil {
		return nil, err
	}
	set, err := parseDocument(doc, cfg.maxBytes)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		src:    src,
		cfg:    cfg,
		events: make(chan openfeature.Event, eventBuffer),
	}
	if cfg.killEnv != "" {
		p.envMeta = openfeature.FlagMetadata{"source": "env:" + cfg.killEnv}
	}
	p.flags.Store(set)
	p.goodSum = p.store(doc)
	p.noteRuleErrorsLocked(&flagSet{}, set)
	p.health = SourceHealth{Connected: true}
	p.healthNow.Store(&p.health)
	return p, nil
}

// NewFileProvider reads and validates the flag file at path and returns a
// provider serving it, following the file's changes once initialised (see
// [FileSource]). opts are [ProviderOption]s and [FileSourceOption]s.
func NewFileProvider(path string, opts ...FileProviderOption) (*Provider, error) {
	c := fileProviderConfig{provider: defaultProviderConfig(), source: defaultFileSourceConfig()}
	for _, o := range opts {
		o.applyFileProvider(&c)
	}
	c.provider = c.provider.normalized()
	if c.source.maxBytes <= 0 {
		c.source.maxBytes = c.provider.maxBytes
	}
	if c.source.logger == nil {
		c.source.logger = c.provider.logger
	}
	return newProvider(newFileSource(path, c.source), c.provider)
}

// Source returns the provider's source.
func (p *Provider) Source() Source { return p.src }

// Path returns the flag file's path when the source is a [FileSource],
// else "".
func (p *Provider) Path() string {
	if fs, ok := p.src.(*FileSource); ok {
		return fs.Path()
	}
	return ""
}

// Metadata returns the provider's name, [ProviderName].
func (p *Provider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: ProviderName}
}

// Hooks returns no provider hooks.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// EventChannel returns the provider's event channel. It carries
// PROVIDER_CONFIGURATION_CHANGED (with FlagChanges) after a document that
// changed flags, PROVIDER_ERROR after a refused or unreadable document (the
// previous flags stay in force), PROVIDER_STALE while the source is not
// connected, and PROVIDER_READY when a valid document follows a failure or
// the source reconnects. The channel is buffered, never closed, and events
// are dropped rather than block the source.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// resolve finds key and evaluates it as kind want.
func (p *Provider) resolve(key string, want valueKind, flatCtx openfeature.FlattenedContext) resolution {
	if r, ok := p.envOverride(key, want); ok {
		return r
	}
	f, ok := p.flags.Load().flags[key]
	if !ok {
		return errorResolution(openfeature.NewFlagNotFoundResolutionError(
			fmt.Sprintf("flag %s not found", quote(key))), nil)
	}
	return f.evaluate(want, flatCtx, p.cfg.now)
}

// BooleanEvaluation resolves a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, defaultValue bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	r := p.resolve(flag, kindBool, flatCtx)
	v, ok := r.value.(bool)
	if !ok {
		v = defaultValue
	}
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// StringEvaluation resolves a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	r := p.resolve(flag, kindString, flatCtx)
	v, ok := r.value.(string)
	if !ok {
		v = defaultValue
	}
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// FloatEvaluation resolves a number flag as float64.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	r := p.resolve(flag, kindNumber, flatCtx)
	v, ok := r.value.(float64)
	if !ok {
		v = defaultValue
	}
	return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// IntEvaluation resolves a number flag as int64. A resolved value that is not a
// whole number within int64 range is TYPE_MISMATCH.
func (p *Provider) IntEvaluation(_ context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	r := p.resolve(flag, kindNumber, flatCtx)
	f, ok := r.value.(float64)
	if !ok {
		return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: r.detail()}
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		r = errorResolution(openfeature.NewTypeMismatchResolutionError(
			fmt.Sprintf("flag %s: variant %s is not an integer", quote(flag), quote(r.variant))), r.metadata)
		return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: r.detail()}
	}
	return openfeature.IntResolutionDetail{Value: int64(f), ProviderResolutionDetail: r.detail()}
}

// ObjectEvaluation resolves an object flag (a JSON object or array). The value
// is a deep copy the caller may modify.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	r := p.resolve(flag, kindObject, flatCtx)
	v := defaultValue
	if r.value != nil {
		v = deepCopy(r.value)
	}
	return openfeature.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// deepCopy copies JSON maps and slices.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
