package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// cmdGoroutines are the concurrencies the command benchmarks run at.
var cmdGoroutines = []int{1, 8, 32}

// benchCmd is the command every command benchmark runs: it does nothing,
// so what is measured is the SSH round trips and the client's own cost.
const benchCmd = "true"

// cmdTarget is one server under benchmark with the clients that reach it.
type cmdTarget struct {
	addr   string
	config *ssh.ClientConfig // for the raw client
	target sshconn.Target    // for the pool's factory
	server *legacy.Server    // for the legacy adapter and router
}

// sshtestTarget starts an in-process sshtest server.
func sshtestTarget(b *testing.B) cmdTarget {
	srv := sshtest.NewServer(b)
	key, kh, err := srv.WriteClientFiles(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return cmdTarget{addr: srv.Addr(), config: srv.ClientConfig("bench"),
		target: sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "bench",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}},
		server: &legacy.Server{ID: "bench-1", Name: "bench", Host: srv.Host(), Port: srv.Port(),
			AppUsername: "bench", ManualKeyPath: key, KnownHostsPath: kh, SecurityLocked: true}}
}

// rawClient dials one x/crypto client to t, closed at cleanup.
func rawClient(b *testing.B, t cmdTarget) *ssh.Client {
	c, err := ssh.Dial("tcp", t.addr, t.config)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// rawRun is what a program using x/crypto directly does to run a command
// and capture its output: a session per command, output into
// bytes.Buffers (which implement io.ReaderFrom, so x/crypto's copy
// allocates only what the buffers grow to).
func rawRun(c *ssh.Client, cmd string) error {
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	return s.Run(cmd)
}

// cmdPoolReg returns a pool with one warm connection to t under key
// "bench" (MaxConnectionsPerKey 1: every command shares that connection,
// as the raw client's do), closed at cleanup, and the registry of its
// factory.
func cmdPoolReg(b *testing.B, t cmdTarget, sessions int) (pool.Pool, *sshconn.Registry) {
	reg := sshconn.NewRegistry()
	reg.Register("bench", t.target)
	p := pool.NewPool(sshconn.NewFactory(reg),
		pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: sessions}, nil)
	b.Cleanup(func() { _ = p.Close() })
	if _, err := p.Run(context.Background(), "bench", benchCmd); err != nil {
		b.Fatal(err)
	}
	return p, reg
}

// cmdOp runs one command for worker w (0..g-1) of runInterleaved.
type cmdOp func(ctx context.Context, w int) error

// roundSize is how many commands one round of runInterleaved runs with
// each implementation at g goroutines: at least 200, and 25 per goroutine.
// A round starts with its goroutines filling the connection and ends with
// them draining it; with 25 commands each those edges are a twenty-fifth
// of a round, and the rate of a round pair varies 2–3 times less than
// with 6 each (200 commands at 32 goroutines: quartiles of the pairs'
// ratios 0.94–1.02 against 0.87–1.09).
func roundSize(g int) int { return max(200, 25*g) }

// runInterleaved calls op b.N times in total from g goroutines and reports
// commands per second (cmd/s) and the process's CPU time per command
// (cpu-µs/op: client and, with an in-process server, server).
//
// When base is not nil (the raw client), it runs rounds of roundSize(g)
// commands of base and of op in turn (base first in even rounds, op first
// in odd ones), timing base's rounds apart: they count in neither ns/op
// nor B/op. It reports base's figures over those rounds (raw-cmd/s,
// raw-cpu-µs/op) and vs-raw, the median over round pairs of op's rate
// divided by base's: other work on the machine slows both sides of a pair
// alike and the median drops the pairs it hit unevenly, so vs-raw is far
// steadier than either rate.
func runInterleaved(b *testing.B, g int, op, base cmdOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := newCrew(ctx, b, g)
	defer c.stop()
	var (
		opT, baseT phase
		ratios     []float64
	)
	b.ReportAllocs()
	b.ResetTimer()
	for round := 0; opT.n < b.N; round++ {
		n := min(roundSize(g), b.N-opT.n)
		if base == nil {
			opT.add(c, n, op)
			continue
		}
		var baseD, opD time.Duration
		runBase := func() {
			b.StopTimer()
			baseD = baseT.add(c, n, base)
			b.StartTimer()
		}
		if round%2 == 0 {
			runBase()
		}
		opD = opT.add(c, n, op)
		if round%2 == 1 {
			runBase()
		}
		ratios = append(ratios, baseD.Seconds()/opD.Seconds())
	}
	b.StopTimer()
	b.ReportMetric(opT.rate(), "cmd/s")
	b.ReportMetric(opT.cpuPerOp(), "cpu-µs/op")
	if base != nil {
		b.ReportMetric(baseT.rate(), "raw-cmd/s")
		b.ReportMetric(baseT.cpuPerOp(), "raw-cpu-µs/op")
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "vs-raw")
	}
}

// crew is g goroutines that run the rounds of one runInterleaved, kept
// for all of them as a service's workers are: a goroutine per round would
// charge each impl for growing fresh stacks to its call depth.
type crew struct {
	b      *testing.B
	ctx    context.Context
	rounds []chan crewRound
	wg     sync.WaitGroup
}

// crewRound is one round: the workers take commands from next until n are
// taken, then report on done.
type crewRound struct {
	n    int64
	op   cmdOp
	next *atomic.Int64
	done *sync.WaitGroup
}

func newCrew(ctx context.Context, b *testing.B, g int) *crew {
	c := &crew{b: b, ctx: ctx, rounds: make([]chan crewRound, g)}
	for w := range c.rounds {
		ch := make(chan crewRound)
		c.rounds[w] = ch
		c.wg.Go(func() {
			for r := range ch {
				for r.next.Add(1) <= r.n {
					if err := r.op(ctx, w); err != nil {
						b.Error(err)
						break
					}
				}
				r.done.Done()
			}
		})
	}
	return c
}

// run runs op n times across the crew and returns when all are done.
func (c *crew) run(n int, op cmdOp) {
	var (
		next atomic.Int64
		done sync.WaitGroup
	)
	done.Add(len(c.rounds))
	for _, ch := range c.rounds {
		ch <- crewRound{n: int64(n), op: op, next: &next, done: &done}
	}
	done.Wait()
}

// stop ends the crew's goroutines and waits for them.
func (c *crew) stop() {
	for _, ch := range c.rounds {
		close(ch)
	}
	c.wg.Wait()
}

// phase accumulates the wall and CPU time of the rounds of one
// implementation.
type phase struct {
	n         int
	wall, cpu time.Duration
}

// add runs op n times on the crew, adds the times taken and returns the
// wall time.
func (p *phase) add(c *crew, n int, op cmdOp) time.Duration {
	cpu0, start := cpuTime(), time.Now()
	c.run(n, op)
	wall := time.Since(start)
	p.wall += wall
	p.cpu += cpuTime() - cpu0
	p.n += n
	return wall
}

func (p *phase) rate() float64 { return float64(p.n) / p.wall.Seconds() }

func (p *phase) cpuPerOp() float64 { return float64(p.cpu.Microseconds()) / float64(p.n) }

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCommand runs "true" on one established connection to an
// in-process sshtest server, side by side in one process:
//
//   - impl=raw: an x/crypto client (NewSession, output into bytes.Buffers,
//     Run, Close);
//   - impl=pool: Pool.Run through a pool holding one connection, with a
//     context that can end (as a request's): sshconn runs each command on
//     a goroutine of its own, so that the context can end a wait x/crypto
//     cannot interrupt;
//   - impl=pool-inline: the same with context.Background(), which nothing
//     can end, so sshconn runs the command on the caller's goroutine: the
//     difference from impl=pool is what that goroutine costs;
//   - impl=adapter: the old API served by the new pool, as old call sites
//     use it: legacy.Adapter GetOrCreateConnection, then ExecuteCommand;
//   - impl=router/cache=off and impl=router/cache=1s: the same call through
//     the flag router (a flagd-format file provider, use-new-pool at 100 %),
//     deciding every call or reusing a decision for up to a second, as the
//     app's router.decision_cache does by default.
//
// The pool gets as many session slots as there are goroutines (at least
// 8), so every impl runs as many sessions at once on its one connection:
// with fewer slots the pool's queue, not its cost, would set the rate.
// Each reports commands per second (cmd/s), CPU per command (cpu-µs/op,
// client and server), B/op and allocs/op (process-wide: the server's share
// is the same for every impl), and the others their rate relative to
// raw's (vs-raw; see runInterleaved). The goal for pool, adapter and
// router is vs-raw ≥ 0.95 and at most 1 KB per command more than raw.
func BenchmarkCommand(b *testing.B) {
	t := sshtestTarget(b)
	raw := rawClient(b, t)
	rawOp := func(context.Context, int) error { return rawRun(raw, benchCmd) }
	flags := newRolloutFlags(b)
	for _, g := range cmdGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d/impl=raw", g), func(b *testing.B) {
			runInterleaved(b, g, rawOp, nil)
		})
		p, reg := cmdPoolReg(b, t, max(g, 8))
		b.Run(fmt.Sprintf("goroutines=%d/impl=pool", g), func(b *testing.B) {
			runInterleaved(b, g, func(ctx context.Context, _ int) error {
				_, err := p.Run(ctx, "bench", benchCmd)
				return err
			}, rawOp)
		})
		b.Run(fmt.Sprintf("goroutines=%d/impl=pool-inline", g), func(b *testing.B) {
			runInterleaved(b, g, func(context.Context, int) error {
				_, err := p.Run(context.Background(), "bench", benchCmd)
				return err
			}, rawOp)
		})
		a := legacy.NewAdapter(p, registrar(reg))
		b.Cleanup(a.Stop)
		b.Run(fmt.Sprintf("goroutines=%d/impl=adapter", g), func(b *testing.B) {
			runInterleaved(b, g, oldStyleCall(a, t.server), rawOp)
		})
		lp := legacy.NewConnectionPool(legacy.WithFactory(sshconn.NewFactory(reg)), legacy.WithRegistrar(registrar(reg)),
			legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
		b.Cleanup(lp.Stop)
		for _, cache := range []time.Duration{0, time.Second} {
			r := legacy.NewRouter(lp, a, flags, legacy.WithDecisionCache(cache))
			b.Cleanup(func() { _ = r.Close() })
			name := map[bool]string{false: "off", true: cache.String()}[cache > 0]
			b.Run(fmt.Sprintf("goroutines=%d/impl=router/cache=%s", g, name), func(b *testing.B) {
				runInterleaved(b, g, oldStyleCall(r, t.server), rawOp)
				if s := r.Stats(); s.New == 0 || s.Legacy != 0 {
					b.Fatalf("router sent %d calls to the new pool and %d to legacy; want all to the new pool", s.New, s.Legacy)
				}
			})
		}
	}
}

// connectionProvider is the old API's entry point, which the adapter and
// the router implement.
type connectionProvider interface {
	GetOrCreateConnection(server *legacy.Server, asRoot bool) (*legacy.PooledConnection, error)
}

// oldStyleCall is a command as old call sites run it: get the server's
// connection, then execute on it.
func oldStyleCall(cp connectionProvider, s *legacy.Server) cmdOp {
	return func(context.Context, int) error {
		conn, err := cp.GetOrCreateConnection(s, false)
		if err != nil {
			return err
		}
		_, err = conn.ExecuteCommand(benchCmd)
		return err
	}
}

// registrar registers a legacy server's target in reg, as the app's
// wiring does.
func registrar(reg *sshconn.Registry) legacy.TargetRegistrar {
	return legacy.TargetRegistrarFunc(func(key string, s *legacy.Server, asRoot bool) error {
		reg.Register(key, s.Target(asRoot))
		return nil
	})
}

// rolloutFlags is a flagd-format flag file with the new pool rolled out to
// every server (a fractional split at 100 %) and the kill switch off.
const rolloutFlags = `{"flags": {
  "kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"},
  "use-new-pool": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 100], ["off", 0]]}}
}}`

// newRolloutFlags returns a flags client on rolloutFlags through the file
// provider the app uses.
func newRolloutFlags(b *testing.B) openfeature.IClient {
	path := filepath.Join(b.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(rolloutFlags), 0o600); err != nil {
		b.Fatal(err)
	}
	fp, err := featureflags.NewFileProvider(path)
	if err != nil {
		b.Fatal(err)
	}
	f := featureflags.NewFlags(fp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Shutdown(context.Background()) })
	return f.Client()
}
