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

	"golang.org/x/crypto/ssh"

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
}

// sshtestTarget starts an in-process sshtest server.
func sshtestTarget(b *testing.B) cmdTarget {
	srv := sshtest.NewServer(b)
	kh := filepath.Join(b.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return cmdTarget{addr: srv.Addr(), config: srv.ClientConfig("bench"),
		target: sshconn.Target{Host: srv.Host(), Port: srv.Port(), User: "bench",
			Auth: sshconn.Auth{Signers: []ssh.Signer{srv.ClientSigner()}}, KnownHostsFiles: []string{kh}}}
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

// cmdPool returns a pool with one warm connection to t under key "bench"
// (MaxConnectionsPerKey 1: every command shares that connection, as the
// raw client's do), closed at cleanup.
func cmdPool(b *testing.B, t cmdTarget, sessions int) pool.Pool {
	reg := sshconn.NewRegistry()
	reg.Register("bench", t.target)
	p := pool.NewPool(sshconn.NewFactory(reg),
		pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: sessions}, nil)
	b.Cleanup(func() { _ = p.Close() })
	if _, err := p.Run(context.Background(), "bench", benchCmd); err != nil {
		b.Fatal(err)
	}
	return p
}

// cmdOp runs one command for worker w (0..g-1) of runInterleaved.
type cmdOp func(ctx context.Context, w int) error

// cmdRound is how many commands one round of runInterleaved runs with
// each implementation.
const cmdRound = 200

// runInterleaved calls op b.N times in total from g goroutines and reports
// commands per second (cmd/s) and the process's CPU time per command
// (cpu-µs/op: client and, with an in-process server, server).
//
// When base is not nil (the raw client), it runs rounds of cmdRound
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
	var (
		opT, baseT phase
		ratios     []float64
	)
	b.ReportAllocs()
	b.ResetTimer()
	for round := 0; opT.n < b.N; round++ {
		n := min(cmdRound, b.N-opT.n)
		if base == nil {
			opT.add(b, g, n, ctx, op)
			continue
		}
		var baseD, opD time.Duration
		runBase := func() {
			b.StopTimer()
			baseD = baseT.add(b, g, n, ctx, base)
			b.StartTimer()
		}
		if round%2 == 0 {
			runBase()
		}
		opD = opT.add(b, g, n, ctx, op)
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

// phase accumulates the wall and CPU time of the rounds of one
// implementation.
type phase struct {
	n         int
	wall, cpu time.Duration
}

// add runs op n times from g goroutines, adds the times taken and returns
// the wall time.
func (p *phase) add(b *testing.B, g, n int, ctx context.Context, op cmdOp) time.Duration {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0, start := cpuTime(), time.Now()
	for w := range g {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(ctx, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
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
// in-process sshtest server, side by side in one process: impl=raw is an
// x/crypto client (NewSession, output into bytes.Buffers, Run, Close),
// impl=pool is Pool.Run through a pool holding one connection. The pool
// gets as many session slots as there are goroutines (at least 8), so both
// run as many sessions at once on their one connection: with fewer slots
// the pool's queue, not its cost, would set the rate. Each reports
// commands per second (cmd/s), CPU per command (cpu-µs/op, client and
// server), B/op and allocs/op (process-wide: the server's share is the
// same for every impl), and the others their rate relative to raw's
// (vs-raw; see runInterleaved). The pool's goal is vs-raw ≥ 0.95 and at
// most 1 KB per command more than raw.
func BenchmarkCommand(b *testing.B) {
	t := sshtestTarget(b)
	raw := rawClient(b, t)
	rawOp := func(context.Context, int) error { return rawRun(raw, benchCmd) }
	for _, g := range cmdGoroutines {
		b.Run(fmt.Sprintf("goroutines=%d/impl=raw", g), func(b *testing.B) {
			runInterleaved(b, g, rawOp, nil)
		})
		p := cmdPool(b, t, max(g, 8))
		b.Run(fmt.Sprintf("goroutines=%d/impl=pool", g), func(b *testing.B) {
			runInterleaved(b, g, func(ctx context.Context, _ int) error {
				_, err := p.Run(ctx, "bench", benchCmd)
				return err
			}, rawOp)
		})
	}
}
