package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/pflag"

	"github.com/sshpool/sshpool"
	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshtest"
)

// embedded is an in-process SSH server with a client key file and a
// known_hosts file that trusts it, so commands need no SSH host.
type embedded struct {
	srv *sshtest.Server
	dir string
}

func startEmbedded() (*embedded, error) {
	srv, err := sshtest.Start()
	if err != nil {
		return nil, fmt.Errorf("start embedded server: %w", err)
	}
	dir, err := os.MkdirTemp("", "sshpool-embedded-")
	if err != nil {
		srv.Close()
		return nil, err
	}
	e := &embedded{srv: srv, dir: dir}
	if err := errors.Join(
		os.WriteFile(e.keyFile(), srv.ClientKeyPEM(), 0o600),
		os.WriteFile(e.knownHosts(), []byte(srv.KnownHostsLine()+"\n"), 0o600),
	); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *embedded) keyFile() string    { return filepath.Join(e.dir, "id_ed25519") }
func (e *embedded) knownHosts() string { return filepath.Join(e.dir, "known_hosts") }
func (e *embedded) flagsFile() string  { return filepath.Join(e.dir, "flags.json") }

// target is the embedded server as a config target, with strict host key
// checking.
func (e *embedded) target() app.TargetSection {
	return app.TargetSection{Host: e.srv.Host(), Port: e.srv.Port(), User: "demo",
		IdentityFiles: []string{e.keyFile()}, KnownHosts: []string{e.knownHosts()}}
}

// Close stops the server and removes the key files.
func (e *embedded) Close() {
	e.srv.Close()
	os.RemoveAll(e.dir)
}

// poolTarget is how exec and bench reach a key: a config file's targets,
// or the embedded server registered as demoKey.
type poolTarget struct {
	configPath string
	embedded   bool
}

func (t *poolTarget) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.configPath, "config", "", "config file (YAML or JSON) with pool settings and targets")
	fs.BoolVar(&t.embedded, "embedded", false, "serve key "+demoKey+" from an embedded SSH server (default when no --config is given and the key is "+demoKey+")")
}

// targetKeys returns the configured target keys, sorted.
func targetKeys(cfg app.Config) []string {
	keys := make([]string, 0, len(cfg.Targets))
	for k := range cfg.Targets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// prepare loads the configuration and, when asked (or by default for key
// demoKey without a config file), starts the embedded server and adds it
// as target demoKey. closeEmb stops the server (a no-op without one).
func (t *poolTarget) prepare(key string, stderr io.Writer) (cfg app.Config, emb *embedded, closeEmb func(), err error) {
	cfg, err = app.LoadWith(app.LoadOptions{Path: t.configPath, Env: os.Environ(), Warn: warnTo(stderr)})
	if err != nil {
		return cfg, nil, nil, err
	}
	closeEmb = func() {}
	if t.embedded || (t.configPath == "" && key == demoKey) {
		if emb, err = startEmbedded(); err != nil {
			return cfg, nil, nil, err
		}
		if cfg.Targets == nil {
			cfg.Targets = map[string]app.TargetSection{}
		}
		cfg.Targets[demoKey] = emb.target()
		closeEmb = emb.Close
		fmt.Fprintf(stderr, "using the embedded SSH server on %s as %q\n", emb.srv.Addr(), demoKey)
	}
	return cfg, emb, closeEmb, nil
}

// open builds a pool with the Wire injector for key, starting the embedded
// server when asked. closeAll drains the pool (bounded by
// lifecycle.drain_timeout) and releases everything.
func (t *poolTarget) open(key string, stderr io.Writer) (pool.Pool, app.Config, func(), error) {
	cfg, _, closeEmb, err := t.prepare(key, stderr)
	if err != nil {
		return nil, cfg, nil, err
	}
	p, cleanup, err := sshpool.InitializePool(cfg.Providers(nil))
	if err != nil {
		closeEmb()
		return nil, cfg, nil, err
	}
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Lifecycle.DrainTimeout)
		defer cancel()
		p.CloseContext(ctx)
		cleanup()
		closeEmb()
	}
	return p, cfg, closeAll, nil
}
