package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/metrics"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// Module returns sshpool's fx module: a plain fx.Module named "sshpool"
// that nests in a host's own modules and sets no app-wide option. Start and
// stop timeouts are the host's (fx.StartTimeout, fx.StopTimeout on its
// fx.New); see LifecycleSection for the recommended values.
//
// The configuration comes from the graph: a host that builds its own
// Config supplies it (fx.Supply(cfg)) or provides it from its own loader.
// WithConfig supplies one inside the module instead, and WithLoader loads
// one with LoadWith when the module is constructed; both keep it private
// to the module.
// The flag document comes from flags.file, or from a source the program
// registers with WithFlagSource (flags.source: etcd).
//
// The module calls the Wire injector (sshpool.InitializeMigration) and
// registers lifecycle hooks, started in this order and stopped in reverse:
//
//  1. the injector's cleanup (OnStop only, so it runs last, even when a
//     later OnStart fails);
//  2. flags: the provider is set on the isolated API and ready
//     (SetProviderAndWait); OnStop shuts the API down;
//  3. legacy pool: Start; OnStop Stop;
//  4. new pool: Start (the pool's health and cleanup loops, and warm-up,
//     whose failures are logged, not fatal) and a snapshot recorder (every
//     pool.health_interval); OnStop stops the recorder and drains the pool
//     with CloseContext, which stops the pool's loops, by the drain
//     deadline that step 5 started;
//  5. compatibility seam: legacy.Install(router); OnStop restores it, then
//     stops the router's pools and the singleton within
//     lifecycle.drain_timeout, which bounds steps 5 and 4 together (one
//     deadline for the whole drain): new old-API calls get "shutting down",
//     those in flight finish; any cut at the deadline fail the stop with
//     a *legacy.DrainError naming them;
//  6. metrics: the collector is registered with the graph's
//     prometheus.Registerer, if there is one; OnStop unregisters it;
//  7. admin HTTP: listening before OnStart returns; OnStop Shutdown;
//  8. readiness: /readyz passes from here; OnStop (the first to run) makes
//     it fail at once.
//
// It provides *providers.Migration, pool.Pool, *legacy.Router, *Admin and
// *metrics.Collector. It takes from the graph, when present: a
// *slog.Logger for logs; a providers.Observers with tracing hooks (an
// OpenTelemetry tracer); a prometheus.Registerer to register the collector
// in (the host's registry) and a prometheus.Gatherer that the admin
// server's /metrics serves. With only a Gatherer, /metrics serves it and
// a private registry holding the collector; with neither, that private
// registry alone.
func Module(opts ...Option) fx.Option {
	var o moduleOptions
	for _, opt := range opts {
		opt(&o)
	}
	options := []fx.Option{
		fx.Provide(o.newMigration, migrationPool, migrationRouter, newCollector, newAdmin),
		fx.Invoke(registerHooks),
	}
	switch {
	case o.loader != nil:
		lo := *o.loader
		options = append(options, fx.Provide(fx.Private, func() (Config, error) { return LoadWith(lo) }))
	case o.config != nil:
		options = append(options, fx.Supply(*o.config, fx.Private))
	}
	return fx.Module("sshpool", options...)
}

// Option configures Module.
type Option func(*moduleOptions)

type moduleOptions struct {
	config      *Config
	loader      *LoadOptions
	flagSources map[string]FlagSourceFunc // by flags.source; see WithFlagSource
}

// WithConfig makes the module use cfg instead of a Config from the graph.
func WithConfig(cfg Config) Option {
	return func(o *moduleOptions) { o.config, o.loader = &cfg, nil }
}

// WithLoader makes the module load its Config with LoadWith(lo) (defaults,
// file, SSHPOOL_ variables, validated) when it is constructed, instead of
// taking one from the graph; a load error fails fx.New.
func WithLoader(lo LoadOptions) Option {
	return func(o *moduleOptions) { o.loader, o.config = &lo, nil }
}

// withDefaults replaces zero durations with the defaults.
func (l LifecycleSection) withDefaults() LifecycleSection {
	if l.StartTimeout <= 0 {
		l.StartTimeout = DefaultStartTimeout
	}
	if l.StopTimeout <= 0 {
		l.StopTimeout = DefaultStopTimeout
	}
	if l.DrainTimeout <= 0 {
		l.DrainTimeout = DefaultDrainTimeout
	}
	return l
}

// loggerIn is an optional logger and optional tracing hooks from the fx
// graph.
type loggerIn struct {
	fx.In
	Logger    *slog.Logger        `optional:"true"`
	Observers providers.Observers `optional:"true"`
}

func (l loggerIn) get() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l.Logger
}

// newMigration calls the injector and appends its cleanup as the first
// hook (OnStop only): fx.Provide of a (T, func(), error) constructor would
// drop the cleanup, and a hook appended later would not run if an earlier
// OnStart failed.
func (o moduleOptions) newMigration(lc fx.Lifecycle, cfg Config, l loggerIn) (*providers.Migration, error) {
	pc := cfg.Providers(l.Logger)
	var err error
	if pc.Flags.Source, err = o.flagSource(cfg.Flags, l.get()); err != nil {
		return nil, err
	}
	pc.Observers = l.Observers
	m, cleanup, err := sshpool.InitializeMigration(pc)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(cleanup))
	return m, nil
}

func migrationPool(m *providers.Migration) pool.Pool        { return m.Pool }
func migrationRouter(m *providers.Migration) *legacy.Router { return m.Router }

// newCollector returns the Prometheus collector over m's components.
func newCollector(m *providers.Migration) *metrics.Collector { return NewCollector(m) }

// registryIn is the host's Prometheus registry, if it has one.
type registryIn struct {
	fx.In
	Registerer prometheus.Registerer `optional:"true"`
	Gatherer   prometheus.Gatherer   `optional:"true"`
}

// newAdmin returns the admin server. /metrics serves the host's Gatherer,
// in which the collector is registered when the host also gave its
// Registerer; otherwise the collector's own registry, added to the host's
// Gatherer if there is one.
func newAdmin(cfg Config, m *providers.Migration, c *metrics.Collector, r registryIn, p pageIn) *Admin {
	opts := []AdminOption{WithConfigStore(p.Store), WithEventLog(p.Events)}
	if r.Gatherer != nil && r.Registerer != nil {
		return NewAdmin(cfg, m, append(opts, WithGatherer(r.Gatherer))...)
	}
	own := prometheus.NewRegistry()
	own.MustRegister(c)
	if r.Gatherer != nil {
		return NewAdmin(cfg, m, append(opts, WithGatherer(prometheus.Gatherers{r.Gatherer, own}))...)
	}
	return NewAdmin(cfg, m, append(opts, WithGatherer(own))...)
}

// pageIn is the admin page's optional input: a *ConfigStore (serve supplies
// one) makes /debug/config and the page follow reloads; an *EventLog fills
// the page's recent events.
type pageIn struct {
	fx.In
	Store  *ConfigStore `optional:"true"`
	Events *EventLog    `optional:"true"`
}

func registerHooks(lc fx.Lifecycle, cfg Config, m *providers.Migration, admin *Admin, c *metrics.Collector,
	r registryIn, l loggerIn) {
	cfg.Lifecycle = cfg.Lifecycle.withDefaults()
	log := l.get()
	lc.Append(fx.StartStopHook(m.Flags.Start, m.Flags.Shutdown))
	lc.Append(fx.StartStopHook(m.Legacy.Start, m.Legacy.Stop))
	drain := &drainClock{d: cfg.Lifecycle.DrainTimeout}
	runner := newPoolRunner(m.Pool, drain, log)
	lc.Append(fx.StartStopHook(runner.start, runner.stop))
	var restore func()
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { restore = legacy.Install(m.Router); return nil },
		OnStop: func(ctx context.Context) error {
			restore()
			return drainOldAPI(ctx, m.Router, drain)
		},
	})
	if r.Registerer != nil {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { return registerCollector(r.Registerer, c) },
			OnStop:  func(context.Context) error { r.Registerer.Unregister(c); return nil },
		})
	}
	if cfg.Admin.Addr != AdminOff {
		lc.Append(fx.StartStopHook(admin.Start, admin.Shutdown))
	}
	// Last: ready once everything started, not ready as soon as stopping
	// begins (before the admin server stops answering).
	lc.Append(fx.StartStopHook(admin.markStarted, admin.markStopping))
}

// drainClock is the one drain deadline of a stop: lifecycle.drain_timeout
// from the first drain that starts (the old API's, then the pool's, on
// fx's stop goroutine). With a deadline each, a command of the old API
// that outlived its drain held its lease through the pool's drain too,
// and the stop took twice drain_timeout, past the host's stop timeout
// that LifecycleSection recommends (TestStopDrainsWithinDrainTimeout).
type drainClock struct {
	d    time.Duration
	once sync.Once
	at   time.Time // set once, by the first context call
}

// context returns ctx bounded by the shared drain deadline.
func (c *drainClock) context(ctx context.Context) (context.Context, context.CancelFunc) {
	c.once.Do(func() { c.at = time.Now().Add(c.d) })
	return context.WithDeadline(ctx, c.at)
}

// drainOldAPI stops the old API's pools once the seam is restored, at
// once and together: the router's two (through the router) and the
// singleton, which old call sites reach again after the restore, so that
// they get "shutting down" instead of a pool nobody drains. New old-API
// calls are refused; those in flight may finish within the drain.
// Commands still running at the deadline are cut and returned as
// *legacy.DrainErrors, which fail the stop.
func drainOldAPI(ctx context.Context, r *legacy.Router, drain *drainClock) error {
	ctx, cancel := drain.context(ctx)
	defer cancel()
	stoppers := []legacy.Stopper{r}
	if single := legacy.GetConnectionPool(); legacy.Provider() == legacy.ConnectionProvider(single) {
		stoppers = append(stoppers, single) // unless another router is installed (nested apps)
	}
	errs := make([]error, len(stoppers))
	var wg sync.WaitGroup
	for i, s := range stoppers {
		wg.Go(func() { errs[i] = s.StopContext(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("app: drain: %w", err)
	}
	return nil
}

// poolRunner owns the pool's lifetime in the app: Start (loops and
// warm-up) and the graceful drain.
type poolRunner struct {
	p     pool.Pool
	drain *drainClock
	log   *slog.Logger
}

func newPoolRunner(p pool.Pool, drain *drainClock, log *slog.Logger) *poolRunner {
	return &poolRunner{p: p, drain: drain, log: log}
}

// start starts the pool: its own health and cleanup loops (probes, death
// watchers, replacement, circuit breakers, idle and lifetime cleanup, leak
// reports, all logged through the pool's tracer) and warm-up. Warm-up
// failures are logged: the pool dials on demand anyway. The health loop
// also records the pool's snapshot history that the admin page charts.
func (r *poolRunner) start(ctx context.Context) error {
	if err := r.p.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("app: pool warm-up: %w", err)
		}
		r.log.Warn("pool warm-up incomplete", "err", err)
	}
	return nil
}

// stop drains the pool within what the old API's drain left of the drain
// timeout (and ctx): CloseContext also stops the pool's loops. Leases
// still held then are cut.
func (r *poolRunner) stop(ctx context.Context) error {
	ctx, cancel := r.drain.context(ctx)
	defer cancel()
	err := r.p.CloseContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		r.log.Warn("pool drain timed out; remaining leases were cut", "timeout", r.drain.d)
		return nil
	}
	return err
}

// registerCollector registers c with r, naming the registry conflict when
// the host registered sshpool's families already.
func registerCollector(r prometheus.Registerer, c *metrics.Collector) error {
	if err := r.Register(c); err != nil {
		return fmt.Errorf("app: register the sshpool metrics collector: %w", err)
	}
	return nil
}
