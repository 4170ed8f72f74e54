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

// ProviderName is the name a [FileProvider] reports in its metadata.
const ProviderName = "sshpool-flagd-file"

// Defaults of the file provider's options.
const (
	// DefaultDebounce is how long the file must be quiet after a change before
	// it is reloaded.
	DefaultDebounce = 100 * time.Millisecond

	// eventBuffer is the capacity of the event channel; sends never block and
	// events beyond it are dropped (and counted).
	eventBuffer = 16
)

// Interface checks.
var (
	_ openfeature.FeatureProvider          = (*FileProvider)(nil)
	_ openfeature.ContextAwareStateHandler = (*FileProvider)(nil)
	_ openfeature.EventHandler             = (*FileProvider)(nil)
)

// FileProvider is an OpenFeature provider that evaluates a flag file in flagd's
// flag-definition format (JSON or YAML) in-process, and reloads it when it
// changes.
//
// The file is read and validated by [NewFileProvider], so a bad file is reported
// at construction; no goroutine is started there. Watching starts in Init (or
// InitWithContext, called by the OpenFeature API when the provider is set) and
// stops in Shutdown, which waits for the watcher to end. Evaluations are
// lock-free: the current flags live behind an atomic pointer and a reload
// swaps them whole, only when the new file is valid.
//
// A FileProvider can be bound to one OpenFeature API at a time.
type FileProvider struct {
	path string
	cfg  providerConfig

	flags atomic.Pointer[flagSet] // current valid flags; never nil after construction

	events chan openfeature.Event // buffered; sends are non-blocking, never closed

	envMeta openfeature.FlagMetadata // metadata of an environment override; immutable

	// reloadMu serialises reloads (watcher, polling and Reload) and guards
	// goodData, lastData, lastErr and failing.
	reloadMu sync.Mutex
	goodData []byte // contents of the flags in force
	lastData []byte // contents last read (valid or not)
	lastErr  error  // error of the last reload attempt; nil after a success
	failing  bool   // a ProviderError was emitted and no ProviderReady since

	// lifeMu guards watch (the running watcher, nil when stopped). Lock order:
	// lifeMu before reloadMu.
	lifeMu sync.Mutex
	watch  *watcher

	reloads       atomic.Int64
	reloadErrors  atomic.Int64
	droppedEvents atomic.Int64
	lastErrMsg    atomic.Pointer[string] // message of lastErr, for Stats without the lock
}

// providerConfig holds the options.
type providerConfig struct {
	logger       *slog.Logger
	debounce     time.Duration
	pollInterval time.Duration
	killEnv      string
	now          func() time.Time
	lookupEnv    func(string) (string, bool)
}

// FileProviderOption configures a [FileProvider].
type FileProviderOption func(*providerConfig)

// WithLogger sets the logger for reload results and watcher errors. Default:
// a logger that discards everything. Flag values and contexts are never logged.
func WithLogger(l *slog.Logger) FileProviderOption {
	return func(c *providerConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithDebounce sets how long the file must be quiet after a change event before
// it is reloaded, so that an editor's burst of writes gives one reload.
// Default [DefaultDebounce]; zero or negative means reload on the first event.
func WithDebounce(d time.Duration) FileProviderOption {
	return func(c *providerConfig) { c.debounce = max(d, 0) }
}

// WithPollInterval adds a polling fallback: the file is also re-read every d
// (and reloaded if its contents changed), for file systems without change
// notification (some network and FUSE mounts) or a path that is a symlink into
// another directory. Default 0: no polling.
func WithPollInterval(d time.Duration) FileProviderOption {
	return func(c *providerConfig) { c.pollInterval = max(d, 0) }
}

// WithKillSwitchEnv makes [FlagKillSwitch] resolve to the boolean value of the
// environment variable name (as strconv.ParseBool reads it) with reason STATIC
// and variant "env", whatever the file says, for an operator without access to
// the file. The variable is read at every evaluation of the kill switch; an
// unset or non-boolean value leaves the file in charge. Default: no override.
// [DefaultKillSwitchEnv] is the conventional name.
func WithKillSwitchEnv(name string) FileProviderOption {
	return func(c *providerConfig) { c.killEnv = name }
}

// NewFileProvider reads and validates the flag file at path and returns a
// provider serving it. An unreadable or invalid file is an error (wrapping
// [ErrInvalidFlagFile] when invalid): the constructor does this one read so
// that a broken deployment fails at start-up, but it starts no goroutine;
// watching begins with Init.
func NewFileProvider(path string, opts ...FileProviderOption) (*FileProvider, error) {
	cfg := providerConfig{
		logger:    slog.New(slog.DiscardHandler),
		debounce:  DefaultDebounce,
		now:       time.Now,
		lookupEnv: os.LookupEnv,
	}
	for _, o := range opts {
		o(&cfg)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("featureflags: read flag file: %w", err)
	}
	set, err := parseFlagSet(path, data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	p := &FileProvider{
		path:     path,
		cfg:      cfg,
		events:   make(chan openfeature.Event, eventBuffer),
		goodData: data,
		lastData: data,
	}
	if cfg.killEnv != "" {
		p.envMeta = openfeature.FlagMetadata{"source": "env:" + cfg.killEnv}
	}
	p.flags.Store(set)
	return p, nil
}

// Path returns the flag file's path.
func (p *FileProvider) Path() string { return p.path }

// Metadata returns the provider's name, [ProviderName].
func (p *FileProvider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: ProviderName}
}

// Hooks returns no provider hooks.
func (p *FileProvider) Hooks() []openfeature.Hook { return nil }

// EventChannel returns the provider's event channel. It carries
// ProviderConfigChange (with FlagChanges) after a reload that changed flags,
// ProviderError after a failed reload (the previous flags stay in force), and
// ProviderReady when a valid file follows a failure. The channel is buffered,
// never closed, and events are dropped rather than block a reload.
func (p *FileProvider) EventChannel() <-chan openfeature.Event { return p.events }

// resolve finds key and evaluates it as kind want.
func (p *FileProvider) resolve(key string, want valueKind, flatCtx openfeature.FlattenedContext) resolution {
	if r, ok := p.envOverride(key, want); ok {
		return r
	}
	f, ok := p.flags.Load().flags[key]
	if !ok {
		return errorResolution(openfeature.NewFlagNotFoundResolutionError(
			fmt.Sprintf("flag %q not found", key)), nil)
	}
	return f.evaluate(want, flatCtx, p.cfg.now)
}

// BooleanEvaluation resolves a boolean flag.
func (p *FileProvider) BooleanEvaluation(_ context.Context, flag string, defaultValue bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	r := p.resolve(flag, kindBool, flatCtx)
	v, ok := r.value.(bool)
	if !ok {
		v = defaultValue
	}
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// StringEvaluation resolves a string flag.
func (p *FileProvider) StringEvaluation(_ context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	r := p.resolve(flag, kindString, flatCtx)
	v, ok := r.value.(string)
	if !ok {
		v = defaultValue
	}
	return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// FloatEvaluation resolves a number flag as float64.
func (p *FileProvider) FloatEvaluation(_ context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	r := p.resolve(flag, kindNumber, flatCtx)
	v, ok := r.value.(float64)
	if !ok {
		v = defaultValue
	}
	return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: r.detail()}
}

// IntEvaluation resolves a number flag as int64. A resolved value that is not a
// whole number within int64 range is TYPE_MISMATCH.
func (p *FileProvider) IntEvaluation(_ context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	r := p.resolve(flag, kindNumber, flatCtx)
	f, ok := r.value.(float64)
	if !ok {
		return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: r.detail()}
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		r = errorResolution(openfeature.NewTypeMismatchResolutionError(
			fmt.Sprintf("flag %q: variant %q is not an integer", flag, r.variant)), r.metadata)
		return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: r.detail()}
	}
	return openfeature.IntResolutionDetail{Value: int64(f), ProviderResolutionDetail: r.detail()}
}

// ObjectEvaluation resolves an object flag (a JSON object or array). The value
// is a deep copy the caller may modify.
func (p *FileProvider) ObjectEvaluation(_ context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
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

// Flags returns the sorted keys of the flags currently in force.
func (p *FileProvider) Flags() []string { return p.flags.Load().keys() }

// LastError returns the error of the most recent reload attempt (an unreadable,
// deleted or invalid file), or nil if it succeeded. The flags in force are then
// those of the last valid file.
func (p *FileProvider) LastError() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	return p.lastErr
}

// ProviderStats is a snapshot of a [FileProvider]'s reload counters.
type ProviderStats struct {
	Reloads       int64  // reloads that replaced the flags (cumulative)
	ReloadErrors  int64  // distinct reload failures reported: unreadable or invalid file (cumulative)
	DroppedEvents int64  // events not sent because the channel was full (cumulative)
	Flags         int    // flags currently in force
	LastError     string // message of the last reload error, "" if the last attempt succeeded
}

// Stats returns the provider's counters. It takes no lock.
func (p *FileProvider) Stats() ProviderStats {
	s := ProviderStats{
		Reloads:       p.reloads.Load(),
		ReloadErrors:  p.reloadErrors.Load(),
		DroppedEvents: p.droppedEvents.Load(),
		Flags:         len(p.flags.Load().flags),
	}
	if m := p.lastErrMsg.Load(); m != nil {
		s.LastError = *m
	}
	return s
}

// emit sends an event without blocking; a full channel drops it.
func (p *FileProvider) emit(t openfeature.EventType, details openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: ProviderName, EventType: t, ProviderEventDetails: details}:
	default:
		p.droppedEvents.Add(1)
	}
}
