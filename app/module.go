package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/providers"
)

// Module returns the fx option that runs sshpool's migration layer for cfg.
// It calls the Wire injector (sshpool.InitializeMigration) and registers
// lifecycle hooks, started in this order and stopped in reverse:
//
//  1. the injector's cleanup (OnStop only, so it runs last, even when a
//     later OnStart fails);
//  2. flags: the provider is set on the isolated API and ready
//     (SetProviderAndWait); OnStop shuts the API down;
//  3. legacy pool: Start; OnStop Stop;
//  4. new pool: Start (the pool's health and cleanup loops, and warm-up,
//     whose failures are logged, not fatal) and a snapshot recorder (every
//     pool.health_interval); OnStop stops the recorder and drains the pool
//     with CloseContext bounded by lifecycle.drain_timeout, which stops
//     the pool's loops;
//  5. compatibility seam: legacy.Install(router); OnStop restores;
//  6. admin HTTP: listening before OnStart returns; OnStop Shutdown.
//
// It provides *providers.Migration, pool.Pool, *legacy.Router and *Admin.
// An optional *slog.Logger in the graph receives logs. Start and stop are
// bounded by lifecycle.start_timeout and stop_timeout; zero lifecycle
// durations (a Config built by hand) take their defaults.
func Module(cfg Config) fx.Option {
	cfg.Lifecycle = cfg.Lifecycle.withDefaults()
	return fx.Options(
		fx.Module("sshpool",
			fx.Supply(cfg),
			fx.Provide(newMigration, migrationPool, migrationRouter, newAdmin),
			fx.Invoke(registerHooks),
		),
		fx.StartTimeout(cfg.Lifecycle.StartTimeout),
		fx.StopTimeout(cfg.Lifecycle.StopTimeout),
	)
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

// loggerIn is an optional logger from the fx graph.
type loggerIn struct {
	fx.In
	Logger *slog.Logger `optional:"true"`
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
func newMigration(lc fx.Lifecycle, cfg Config, l loggerIn) (*providers.Migration, error) {
	pc, err := cfg.Providers(l.Logger)
	if err != nil {
		return nil, err
	}
	m, cleanup, err := sshpool.InitializeMigration(pc)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(cleanup))
	return m, nil
}

func migrationPool(m *providers.Migration) pool.Pool        { return m.Pool }
func migrationRouter(m *providers.Migration) *legacy.Router { return m.Router }

// adminIn is newAdmin's input: a *ConfigStore in the graph (serve supplies
// one) makes /debug/config follow reloads, an *EventLog fills the page's
// recent events.
type adminIn struct {
	fx.In
	Cfg    Config
	M      *providers.Migration
	Store  *ConfigStore `optional:"true"`
	Events *EventLog    `optional:"true"`
}

func newAdmin(in adminIn) *Admin {
	return NewAdmin(in.Cfg, in.M, WithConfigStore(in.Store), WithEventLog(in.Events))
}

func registerHooks(lc fx.Lifecycle, cfg Config, m *providers.Migration, admin *Admin, l loggerIn) {
	log := l.get()
	lc.Append(fx.StartStopHook(m.Flags.Start, m.Flags.Shutdown))
	lc.Append(fx.StartStopHook(m.Legacy.Start, m.Legacy.Stop))
	runner := newPoolRunner(m.Pool, cfg.Lifecycle.DrainTimeout, log)
	lc.Append(fx.StartStopHook(runner.start, runner.stop))
	var restore func()
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { restore = legacy.Install(m.Router); return nil },
		OnStop:  func(context.Context) error { restore(); return nil },
	})
	if cfg.Admin.Addr != AdminOff {
		lc.Append(fx.StartStopHook(admin.Start, admin.Shutdown))
	}
}

// poolRunner owns the pool's lifetime in the app: Start (loops and
// warm-up), the snapshot recorder and the graceful drain.
type poolRunner struct {
	p     pool.Pool
	drain time.Duration
	log   *slog.Logger
	stopc chan struct{}
	wg    sync.WaitGroup
}

func newPoolRunner(p pool.Pool, drain time.Duration, log *slog.Logger) *poolRunner {
	return &poolRunner{p: p, drain: drain, log: log, stopc: make(chan struct{})}
}

// start starts the pool: its own health and cleanup loops (probes, death
// watchers, replacement, circuit breakers, idle and lifetime cleanup, leak
// reports, all logged through the pool's tracer) and warm-up. Warm-up
// failures are logged: the pool dials on demand anyway. The runner only
// records a snapshot into the pool's history every HealthInterval.
func (r *poolRunner) start(ctx context.Context) error {
	if err := r.p.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("app: pool warm-up: %w", err)
		}
		r.log.Warn("pool warm-up incomplete", "err", err)
	}
	if iv := r.p.Config().HealthInterval; iv > 0 {
		r.wg.Go(func() { r.snapshotLoop(iv) })
	}
	return nil
}

// snapshotLoop records a snapshot every interval until stop.
func (r *poolRunner) snapshotLoop(iv time.Duration) {
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-r.stopc:
			return
		case <-t.C:
			r.p.RecordSnapshot()
		}
	}
}

// stop ends the snapshot loop and drains the pool within the drain timeout
// (and ctx): CloseContext also stops the pool's loops. Leases still held
// then are cut.
func (r *poolRunner) stop(ctx context.Context) error {
	close(r.stopc)
	r.wg.Wait()
	ctx, cancel := context.WithTimeout(ctx, r.drain)
	defer cancel()
	err := r.p.CloseContext(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		r.log.Warn("pool drain timed out; remaining leases were cut", "timeout", r.drain)
		return nil
	}
	return err
}

// listen opens addr synchronously (so a busy port fails OnStart at once).
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("app: admin listen: %w", err)
	}
	return ln, nil
}

// serve runs srv on ln in a goroutine tracked by wg.
func serve(wg *sync.WaitGroup, srv *http.Server, ln net.Listener) {
	wg.Go(func() { srv.Serve(ln) })
}
