package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/sshpool/sshpool/app"
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
	cfg, err := app.LoadWith(app.LoadOptions{Path: o.configPath, Env: os.Environ()})
	if err != nil {
		return err
	}
	if o.adminAddr != "" {
		cfg.Admin.Addr = o.adminAddr
	}
	if o.flagsPath != "" {
		cfg.Flags.File = o.flagsPath
	}
	var emb *embedded
	if o.embedded {
		if emb, err = startEmbedded(); err != nil {
			return err
		}
		defer emb.Close()
		if err := useEmbedded(&cfg, emb, stdout); err != nil {
			return err
		}
	}
	store := app.NewConfigStore(cfg, app.LoadOptions{Path: o.configPath, Env: os.Environ()})
	return serveApp(ctx, store, o.verbose, emb, stdout, stderr)
}

// useEmbedded registers the embedded server as demoKey and, without a
// flag file, writes demoFlags next to its keys.
func useEmbedded(cfg *app.Config, emb *embedded, stdout io.Writer) error {
	if cfg.Targets == nil {
		cfg.Targets = map[string]app.TargetSection{}
	}
	cfg.Targets[demoKey] = emb.target()
	fmt.Fprintf(stdout, "embedded SSH server on %s, target %q\n", emb.srv.Addr(), demoKey)
	if cfg.Flags.File != "" {
		return nil
	}
	cfg.Flags.File = filepath.Join(emb.dir, "flags.json")
	fmt.Fprintf(stdout, "flag file %s (use-new-pool: 50%% of servers, sticky)\n", cfg.Flags.File)
	return os.WriteFile(cfg.Flags.File, []byte(demoFlags), 0o600)
}

func serveApp(ctx context.Context, store *app.ConfigStore, verbose bool, emb *embedded, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var (
		admin *app.Admin
		p     pool.Pool
	)
	cfg := store.Current()
	lc := cfg.Lifecycle
	fxa := fx.New(
		fx.WithLogger(func() fxevent.Logger { return fxLogger(verbose, stderr) }),
		fx.StartTimeout(orDefault(lc.StartTimeout, app.DefaultStartTimeout)),
		fx.StopTimeout(orDefault(lc.StopTimeout, app.DefaultStopTimeout)),
		fx.Supply(logger),
		fx.Supply(fx.Annotate(newRegistry(), fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer)))),
		app.Module(app.WithConfig(cfg)),
		fx.Populate(&admin, &p))
	if err := fxa.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, fxa.StartTimeout())
	defer cancel()
	if err := fxa.Start(startCtx); err != nil {
		return err
	}
	if addr := admin.Addr(); addr != "" {
		fmt.Fprintf(stdout, "admin: http://%s (/livez /readyz /metrics /debug/pool /debug/config /debug/routes)\n", addr)
	}
	if emb != nil {
		demoCall(stdout, emb)
	}
	fmt.Fprintln(stdout, "serving; SIGHUP reloads the pool section of the config file; stop with Ctrl-C (SIGINT) or SIGTERM")
	waitReloading(ctx, store, p, stdout)
	stopCtx, cancelStop := context.WithTimeout(context.Background(), fxa.StopTimeout())
	defer cancelStop()
	if err := fxa.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped: admin closed, seam restored, pools drained")
	return nil
}

// waitReloading applies the config file's pool section to p on every
// SIGHUP until ctx ends. A bad file is reported and changes nothing.
func waitReloading(ctx context.Context, store *app.ConfigStore, p pool.Pool, stdout io.Writer) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if c, err := store.ApplyPool(p); err != nil {
				fmt.Fprintf(stdout, "reload rejected, configuration unchanged: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "reloaded: pool.max_connections=%d\n", c.Pool.MaxConnections)
			}
		}
	}
}

// demoCall runs one command the old way (legacy.Provider, now the router)
// on the embedded server, showing which pool served it.
func demoCall(stdout io.Writer, emb *embedded) {
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
// errors) through slog on stderr: every event with -v, else warnings and
// errors only (a failed hook, a rollback).
func fxLogger(verbose bool, stderr io.Writer) fxevent.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	l := &fxevent.SlogLogger{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
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

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
