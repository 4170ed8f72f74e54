package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdapp"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

type serveOptions struct {
	configPath string
	flagsPath  string
	adminAddr  string
	embedded   bool
	verbose    bool
}

// demoFlags routes half of the servers to the new pool (sticky per server
// ID), for serve on the embedded server without a flag file.
const demoFlags = `{
  "flags": {
    "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
    "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"fractional": [["on", 50], ["off", 50]]}}
  }
}
`

func newServeCmd() *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the migration layer with admin HTTP until SIGINT/SIGTERM",
		Long: `Run the migration layer (new pool, legacy pool, flag router) in an fx
application with the admin HTTP server until SIGINT or SIGTERM. SIGHUP
reloads the pool section of the config file.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := c.Flags()
	fs.StringVar(&o.configPath, "config", "", "config file (YAML or JSON); SSHPOOL_ variables override it")
	fs.StringVar(&o.flagsPath, "flags", "", "flag file (flagd format); overrides flags.file")
	fs.StringVar(&o.adminAddr, "admin", "", "admin HTTP address; overrides admin.addr (default "+app.DefaultAdminAddr+")")
	fs.BoolVar(&o.embedded, "embedded", true, "register an embedded SSH server as target "+demoKey)
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log pool and flag events to stderr")
	return c
}

// runServe runs the fx application until ctx ends (SIGINT or SIGTERM).
func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	var emb *embedded
	if o.embedded {
		var err error
		if emb, err = startEmbedded(); err != nil {
			return err
		}
		defer emb.Close()
		if err := os.WriteFile(emb.flagsFile(), []byte(demoFlags), 0o600); err != nil {
			return err
		}
	}
	// The command line's overrides apply on every load, reloads included.
	opts := app.LoadOptions{Path: o.configPath, Env: os.Environ(), Warn: warnTo(stderr), Adjust: func(c *app.Config) {
		if o.adminAddr != "" {
			c.Admin.Addr = o.adminAddr
		}
		if o.flagsPath != "" {
			c.Flags.File = o.flagsPath
		}
		if emb != nil {
			useEmbedded(c, emb)
		}
	}}
	cfg, err := app.LoadWith(opts)
	if err != nil {
		return err
	}
	if emb != nil {
		fmt.Fprintf(stdout, "embedded SSH server on %s, target %q\n", emb.srv.Addr(), demoKey)
		if cfg.Flags.File == emb.flagsFile() {
			fmt.Fprintf(stdout, "flag file %s (use-new-pool: 50%% of servers, sticky)\n", cfg.Flags.File)
		}
	}
	return serveApp(ctx, app.NewConfigStore(cfg, opts), o.verbose, emb, stdout, stderr)
}

// useEmbedded registers the embedded server as demoKey and, without a
// flag file or another flag source, uses demoFlags.
func useEmbedded(c *app.Config, emb *embedded) {
	if c.Targets == nil {
		c.Targets = map[string]app.TargetSection{}
	}
	c.Targets[demoKey] = emb.target()
	if c.Flags.File == "" && (c.Flags.Source == "" || c.Flags.Source == app.FlagSourceFile) {
		c.Flags.File = emb.flagsFile()
	}
}

// newServeLogger logs to stderr: info and above, debug with verbose. The
// event log keeps the recent records for the admin page.
func newServeLogger(stderr io.Writer, verbose bool) (*slog.Logger, *app.EventLog) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	events := app.NewEventLog(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}), 0)
	return slog.New(events), events
}

func serveApp(ctx context.Context, store *app.ConfigStore, verbose bool, emb *embedded, stdout, stderr io.Writer) error {
	logger, events := newServeLogger(stderr, verbose)
	// fx's own events with -v. Without it fx logs nothing: every fx error
	// (a failed constructor or hook, a rollback) reaches the user once, as
	// the command's error.
	fxLog := fx.NopLogger
	if verbose {
		fxLog = fx.WithLogger(func() fxevent.Logger { return fxLogger(stderr) })
	}
	var (
		admin *app.Admin
		p     pool.Pool
	)
	cfg := store.Current()
	lc := cfg.Lifecycle
	fxa := fx.New(
		fxLog,
		fx.StartTimeout(lc.StartTimeout), // LoadWith validated both (> 0)
		fx.StopTimeout(lc.StopTimeout),
		fx.Supply(logger, store, events),
		fx.Supply(fx.Annotate(newRegistry(), fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer)))),
		app.Module(app.WithConfig(cfg), etcdapp.Option()),
		fx.Populate(&admin, &p))
	if err := fxa.Err(); err != nil {
		return startupError(err, verbose)
	}
	startCtx, cancel := context.WithTimeout(ctx, fxa.StartTimeout())
	defer cancel()
	if err := fxa.Start(startCtx); err != nil {
		return startupError(err, verbose)
	}
	if addr := admin.Addr(); addr != "" {
		fmt.Fprintf(stdout, "admin: http://%s (/ /livez /readyz /metrics /debug/pool /debug/config /debug/routes)\n", addr)
	}
	if emb != nil {
		startupCall(stdout, emb)
	}
	fmt.Fprintln(stdout, "serving; SIGHUP reloads the pool section of the config file; stop with Ctrl-C (SIGINT) or SIGTERM")
	waitReloading(ctx, store, p, logger)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), fxa.StopTimeout())
	defer cancelStop()
	if err := fxa.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped: admin closed, seam restored, pools drained")
	return nil
}

// startupError is the cause of a failed start: fx's chain of constructors
// and hooks (which names Go functions and files) only with verbose.
func startupError(err error, verbose bool) error {
	if verbose {
		return err
	}
	cause := dig.RootCause(err)
	return fmt.Errorf("start: %w (-v shows how it was reached)", cause)
}

// waitReloading applies the config file's pool section to p on every
// SIGHUP until ctx ends, and logs the result: what changed and its impact
// on the pool's connections, what waits for a restart, or why the file was
// rejected (nothing changes then).
func waitReloading(ctx context.Context, store *app.ConfigStore, p pool.Pool, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			logReload(log, store, p)
		}
	}
}

func logReload(log *slog.Logger, store *app.ConfigStore, p pool.Pool) {
	r, err := store.ApplyPool(p)
	if err != nil {
		log.Warn("config reload rejected; configuration unchanged", "err", err)
		return
	}
	// The diff's attributes inline (an empty key): what was applied, the
	// pool's changes and the connections they close or hold back, what
	// waits for a restart.
	log.Info("config reloaded", "pool.max_connections", r.InForce.Pool.MaxConnections, slog.Any("", r.ConfigDiff))
}

// startupCall runs one command the old way (legacy.Provider, now the router)
// on the embedded server, showing which pool served it.
func startupCall(stdout io.Writer, emb *embedded) {
	server := &legacy.Server{ID: "demo-1", Name: "demo", Host: emb.srv.Host(), Port: emb.srv.Port(),
		AppUsername: "demo", ManualKeyPath: emb.keyFile(), KnownHostsPath: emb.knownHosts()}
	conn, err := legacy.Provider().GetOrCreateConnection(server, false)
	if err != nil {
		fmt.Fprintf(stdout, "demo call failed: %v\n", err)
		return
	}
	defer conn.Close()
	out, err := conn.ExecuteCommand("echo hello from the router")
	if err != nil {
		fmt.Fprintf(stdout, "demo call failed: %v\n", err)
		return
	}
	route := "?"
	if r, ok := legacy.Provider().(*legacy.Router); ok {
		d := r.Decide(context.Background(), server, false)
		route = fmt.Sprintf("%s pool, %s", d.Route, d.Reason)
	}
	fmt.Fprintf(stdout, "legacy.Provider() call for server %s (%s) -> %s", server.ID, route, out)
}

// fxLogger logs fx's own events (providers, hooks run, start and stop
// errors) through slog on stderr, for -v. Its own handler keeps them out of
// the admin page's event log.
func fxLogger(stderr io.Writer) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.UseLogLevel(slog.LevelDebug)
	return l
}

// newRegistry returns serve's Prometheus registry: the Go runtime and
// process collectors; app.Module adds sshpool's collector.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
