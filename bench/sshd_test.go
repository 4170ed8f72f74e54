package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/ctxtime"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/internal/testenv"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// sshdGoroutines are the concurrencies BenchmarkCommandSSHD runs at.
var sshdGoroutines = []int{1, 8, 32, 64}

// perConn is how many goroutines share one connection in the raw and
// ControlMaster impls, and the pool's session slots per connection: below
// sshd's MaxSessions (10), as the pool's default is.
const perConn = 8

// conns returns how many connections g goroutines use at perConn each.
func conns(g int) int { return (g + perConn - 1) / perConn }

// sshdTarget starts a private OpenSSH sshd with stock settings except
// MaxStartups, raised so that dialling per command from 64 goroutines is
// not dropped by sshd's unauthenticated-connection limit.
func sshdTarget(b *testing.B) (*sshdtest.Server, cmdTarget) {
	srv := sshdtest.Start(b, sshdtest.WithMaxStartups("200"))
	return srv, cmdTarget{addr: srv.Addr(), config: srv.ClientConfig(),
		target: sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: srv.User(),
			Auth:            sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}},
			KnownHostsFiles: []string{srv.KnownHostsPath()}}}
}

// rawPerConn returns raw's op on sshd: worker w runs on client w/perConn,
// retrying a session-limit refusal after a millisecond and counting it.
func rawPerConn(b *testing.B, t cmdTarget, g int, refused *atomic.Int64) cmdOp {
	clients := make([]*ssh.Client, conns(g))
	for i := range clients {
		clients[i] = rawClient(b, t)
	}
	return func(ctx context.Context, w int) error {
		for {
			err := rawRun(clients[w/perConn], benchCmd)
			var oce *ssh.OpenChannelError
			if !errors.As(err, &oce) {
				return err
			}
			refused.Add(1)
			if err := ctxtime.Sleep(ctx, time.Millisecond); err != nil {
				return err
			}
		}
	}
}

// sshdPool returns a pool for t with perConn session slots per connection
// and conns(g) connections, all dialled before it returns.
func sshdPool(b *testing.B, t cmdTarget, g int) pool.Pool {
	reg := sshconn.NewRegistry()
	reg.Register("bench", t.target)
	n := conns(g)
	p := pool.NewPool(sshconn.NewFactory(reg), pool.PoolConfig{MaxConnectionsPerKey: n,
		MaxSessionsPerConnection: perConn, WarmupKeys: []string{"bench"}, WarmupConnections: n}, nil)
	b.Cleanup(func() { _ = p.Close() })
	if err := p.Warmup(context.Background()); err != nil {
		b.Fatal(err)
	}
	return p
}

// controlMasters starts n OpenSSH ControlMaster processes to srv and
// returns the command line that runs benchCmd through master i. Without
// the ssh client the benchmark is skipped, or fails when CI is "true".
func controlMasters(b *testing.B, srv *sshdtest.Server, n int) func(i int) []string {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		testenv.Missing(b, "no OpenSSH client (install openssh-client; .ci/run does): %v", err)
	}
	dir := b.TempDir()
	cfg := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(cfg, []byte(srv.OpenSSHConfig("bench")), 0o600); err != nil {
		b.Fatal(err)
	}
	socket := func(i int) string { return filepath.Join(dir, fmt.Sprintf("mux-%d", i)) }
	for i := range n {
		master := exec.Command(sshPath, "-F", cfg, "-M", "-S", socket(i), "-N", "bench")
		if err := master.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = master.Process.Kill()
			_ = master.Wait()
		})
		waitMaster(b, sshPath, cfg, socket(i))
	}
	return func(i int) []string {
		return []string{sshPath, "-F", cfg, "-S", socket(i), "-o", "ControlMaster=no", "bench", benchCmd}
	}
}

// waitMaster waits until the master at socket answers "ssh -O check".
func waitMaster(b *testing.B, sshPath, cfg, socket string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := exec.Command(sshPath, "-F", cfg, "-S", socket, "-O", "check", "bench").Run()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("ControlMaster at %s did not start: %v", socket, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkCommandSSHD runs "true" against a private OpenSSH sshd
// (sshdtest, stock settings but MaxStartups), each impl in rounds
// interleaved with raw's (vs-raw, see runInterleaved):
//
//   - impl=raw: x/crypto clients, one per 8 goroutines (sshd allows 10
//     sessions per connection); a session sshd refuses is retried after
//     1 ms and counted (refused/op).
//   - impl=pool: Pool.Run, 8 sessions per connection and one connection per
//     8 goroutines, dialled before timing.
//   - impl=controlmaster: the OpenSSH client through a ControlMaster, one
//     master per 8 goroutines: "ssh -S socket host true" per command.
//   - impl=dial: a new x/crypto connection per command (TCP, key exchange,
//     authentication, session, close).
//
// sshd forks a shell per command, so every impl is bounded by the
// server's CPU (about 550 commands/s on 2 cores); these figures say what
// each client adds to that.
func BenchmarkCommandSSHD(b *testing.B) {
	srv, t := sshdTarget(b)
	for _, g := range sshdGoroutines {
		var refused atomic.Int64
		rawOp := rawPerConn(b, t, g, &refused)
		b.Run(fmt.Sprintf("goroutines=%d/impl=raw", g), func(b *testing.B) {
			refused.Store(0)
			runInterleaved(b, g, rawOp, nil)
			b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
		})
		p := sshdPool(b, t, g)
		b.Run(fmt.Sprintf("goroutines=%d/impl=pool", g), func(b *testing.B) {
			before := p.GetSnapshot().SessionLimitRetries
			runInterleaved(b, g, func(ctx context.Context, _ int) error {
				_, err := p.Run(ctx, "bench", benchCmd)
				return err
			}, rawOp)
			b.ReportMetric(float64(p.GetSnapshot().SessionLimitRetries-before)/float64(b.N), "refused/op")
		})
		b.Run(fmt.Sprintf("goroutines=%d/impl=controlmaster", g), func(b *testing.B) {
			argv := controlMasters(b, srv, conns(g))
			runInterleaved(b, g, func(ctx context.Context, w int) error {
				a := argv(w / perConn)
				out, err := exec.CommandContext(ctx, a[0], a[1:]...).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
				return nil
			}, rawOp)
		})
		b.Run(fmt.Sprintf("goroutines=%d/impl=dial", g), func(b *testing.B) {
			runInterleaved(b, g, func(context.Context, int) error {
				c, err := ssh.Dial("tcp", t.addr, t.config)
				if err != nil {
					return err
				}
				defer c.Close()
				return rawRun(c, benchCmd)
			}, rawOp)
		})
	}
}
