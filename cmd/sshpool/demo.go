package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// demoKey is the pool key the demo registers for its embedded server.
const demoKey = "demo"

type demoOptions struct {
	jobs        int
	concurrency int
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run commands through a pool against an embedded SSH server",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.jobs < 1 || o.concurrency < 1 {
				return usagef("--jobs and --concurrency must be at least 1")
			}
			return runDemo(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	c.Flags().IntVar(&o.jobs, "jobs", 40, "number of commands to run through the pool")
	c.Flags().IntVar(&o.concurrency, "concurrency", 16, "goroutines running commands at once")
	return c
}

// runDemo starts an sshtest server, builds a pool on sshconn and runs
// commands through it.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer) error {
	srv, err := sshtest.Start()
	if err != nil {
		return fmt.Errorf("start embedded server: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "embedded SSH server listening on %s (host key %s)\n", srv.Addr(), ssh.FingerprintSHA256(srv.HostKey()))

	factory, cleanup, err := demoFactory(srv)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg := pool.DevelopmentConfig()
	p := pool.NewPool(factory, cfg, pool.NoopTracer{})
	defer p.Close()
	fmt.Fprintf(stdout, "pool: %d connections per key, %d sessions per connection\n",
		cfg.MaxConnectionsPerKey, cfg.MaxSessionsPerConnection)

	res, err := p.Run(ctx, demoKey, "hostname")
	if err != nil {
		return fmt.Errorf("first command: %w", err)
	}
	fmt.Fprintf(stdout, "hostname -> %s", res.Stdout)
	if err := demoExitStatus(ctx, p, stdout); err != nil {
		return err
	}
	if err := demoConcurrent(ctx, p, o, stdout); err != nil {
		return err
	}
	printSnapshot(stdout, p.GetSnapshot())
	if err := p.CloseContext(ctx); err != nil {
		return fmt.Errorf("close pool: %w", err)
	}
	fmt.Fprintln(stdout, "pool closed; every lease returned")
	return nil
}

// demoFactory registers the embedded server as a target with strict host
// key checking against a known_hosts file written for it.
func demoFactory(srv *sshtest.Server) (pool.ConnectionFactory, func(), error) {
	dir, err := os.MkdirTemp("", "sshpool-demo-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		cleanup()
		return nil, nil, err
	}
	reg := sshconn.NewRegistry()
	reg.Register(demoKey, sshconn.Target{
		Host:            srv.Host(),
		Port:            srv.Port(),
		User:            "demo",
		Auth:            sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}},
		HostKey:         sshconn.HostKeyStrict,
		KnownHostsFiles: []string{knownHosts},
	})
	return sshconn.NewFactory(reg), cleanup, nil
}

func demoExitStatus(ctx context.Context, p pool.Pool, stdout io.Writer) error {
	_, err := p.Run(ctx, demoKey, "exit 3")
	var exitErr *pool.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("exit 3: want an exit error, got %v", err)
	}
	fmt.Fprintf(stdout, "exit 3 -> exit status %d (kind %s; the connection stays healthy)\n",
		exitErr.Result.ExitStatus, pool.Classify(err))
	return nil
}

// demoConcurrent runs o.jobs commands from o.concurrency goroutines.
func demoConcurrent(ctx context.Context, p pool.Pool, o demoOptions, stdout io.Writer) error {
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards errs
		errs  []error
		start = time.Now()
	)
	for range o.concurrency {
		wg.Go(func() {
			for j := range jobs {
				res, err := p.Run(ctx, demoKey, fmt.Sprintf("echo job %d", j))
				if err == nil && strings.TrimSpace(string(res.Stdout)) != fmt.Sprintf("job %d", j) {
					err = fmt.Errorf("job %d: unexpected output %q", j, res.Stdout)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for j := range o.jobs {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	fmt.Fprintf(stdout, "ran %d commands from %d goroutines in %s, %d failed\n",
		o.jobs, o.concurrency, time.Since(start).Round(time.Millisecond), len(errs))
	return errors.Join(errs...)
}

func printSnapshot(w io.Writer, s pool.Snapshot) {
	fmt.Fprintf(w, "stats: connections created=%d open=%d idle=%d; leases granted=%d outstanding=%d\n",
		s.Created, s.Total, s.Idle, s.Gets, s.LeasesOutstanding)
	fmt.Fprintf(w, "stats: hits=%d misses=%d waits=%d dials=%d dial-failures=%d avg-dial=%s avg-run=%s\n",
		s.Hits, s.Misses, s.WaitCount, s.Dials, s.DialFailures,
		s.AvgDialLatency.Round(time.Microsecond), s.AvgResponseTime.Round(time.Microsecond))
}
