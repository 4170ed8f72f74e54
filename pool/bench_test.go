package pool_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sshpool/sshpool/pool"
)

// benchPool returns a pool with one warm connection per key.
func benchPool(b *testing.B, keys int, tr *pool.Tracer) (pool.Pool, []string) {
	f := newFactory()
	f.notify = true
	return benchPoolWith(b, keys, tr, f)
}

func benchPoolWith(b *testing.B, keys int, tr *pool.Tracer, f pool.ConnectionFactory) (pool.Pool, []string) {
	b.Helper()
	cfg := pool.PoolConfig{MaxConnections: keys, MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 8}
	p := pool.NewPool(f, cfg, tr)
	b.Cleanup(func() { _ = p.Close() })
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("user@host-%d.example.com:22", i)
		c, err := p.Get(context.Background(), names[i])
		if err != nil {
			b.Fatal(err)
		}
		_ = p.Release(names[i], c)
	}
	return p, names
}

// shuffled returns names in a fixed pseudo-random order. The hit-path
// benchmarks visit keys in this order, as a service that talks to many
// hosts does, rather than in creation order: consecutive keys were
// allocated next to each other, so a sequential sweep let the hardware
// prefetcher hide misses that a real workload pays. Every key count gets
// the same treatment and the same work per op (one extra load from this
// slice, itself read sequentially).
func shuffled(names []string) []string {
	out := append([]string(nil), names...)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// BenchmarkGetRelease measures the hit path: Get + Release of a warm
// connection, on one goroutine, cycling over all keys in a fixed random
// order (shuffled). Clients report their end through pool.EndNotifier, as
// sshconn.Client does; client=polled clients do not, so Get checks each
// one's Done channel (one more object read per Get). keys=10000 touches a
// working set (keys, table slots, connections) larger than L2, so it
// measures cache misses as much as the pool; keys=10000/active=10 keeps
// 10,000 keys in the pool but cycles over 10 of them, which isolates the
// pool's own dependence on the number of keys. bench/ has the same sweep
// for a map of puddle pools and for floors: a map lookup with an
// allocation (~1.7× from 10 to 10,000 keys on a 2-vCPU VM, more than this
// pool's ~1.5×), and hashing plus an allocation without any table (~1.2×).
func BenchmarkGetRelease(b *testing.B) {
	for _, tc := range []struct {
		name         string
		keys, active int
		polled       bool
	}{{"keys=1", 1, 1, false}, {"keys=10", 10, 10, false}, {"keys=10000", 10000, 10000, false},
		{"keys=10000/active=10", 10000, 10, false},
		{"keys=10/client=polled", 10, 10, true}, {"keys=10000/client=polled", 10000, 10000, true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := newFactory()
			f.notify = !tc.polled
			p, names := benchPoolWith(b, tc.keys, nil, f)
			names = shuffled(names[:tc.active])
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := names[i%len(names)]
				c, err := p.Get(ctx, k)
				if err != nil {
					b.Fatal(err)
				}
				_ = p.Release(k, c)
			}
		})
	}
}

// BenchmarkGetReleaseParallel measures the hit path under RunParallel.
// Each goroutine starts at a different key and cycles in a fixed random
// order (shuffled).
func BenchmarkGetReleaseParallel(b *testing.B) {
	for _, keys := range []int{1, 10, 10000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			p, names := benchPool(b, keys, nil)
			names = shuffled(names)
			ctx := context.Background()
			var start atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(start.Add(int64(len(names)/2 + 1)))
				for pb.Next() {
					k := names[i%len(names)]
					i++
					c, err := p.Get(ctx, k)
					if err != nil {
						b.Error(err)
						return
					}
					_ = p.Release(k, c)
				}
			})
		})
	}
}

// BenchmarkGetReleaseTracer compares a Tracer with no hook set (which the
// pool drops) with one whose Get and Release hooks count.
func BenchmarkGetReleaseTracer(b *testing.B) {
	for _, tc := range []struct {
		name string
		tr   *pool.Tracer
	}{{"tracer=noop", &pool.Tracer{}}, {"tracer=counting", (&countTracer{}).hooks()}} {
		b.Run(tc.name, func(b *testing.B) {
			p, names := benchPool(b, 1, tc.tr)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, _ := p.Get(ctx, names[0])
				_ = p.Release(names[0], c)
			}
		})
	}
}

// countTracer counts Gets and Releases; its Get start hook returns ctx.
type countTracer struct{ n int }

func (c *countTracer) hooks() *pool.Tracer {
	return &pool.Tracer{
		GetStart: func(ctx context.Context, _ pool.GetData) context.Context { return ctx },
		GetEnd:   func(context.Context, pool.GetData) { c.n++ },
		Release:  func(pool.ReleaseData) { c.n++ },
	}
}

// BenchmarkIdleMemory reports the heap per idle pooled connection with
// 1,000 connections: client=fake measures the pool's own overhead (the
// clients exist before the pool is built and are excluded), its heap
// (pool-B/conn) and the stacks of its per-connection death watchers
// (pool-stack-B/conn) reported apart; client=sshtest
// measures everything for real SSH connections to an in-process sshtest
// server (client and server side, plus the pool). Run with -benchtime 1x.
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 1000
	keys := make([]string, conns)
	for i := range keys {
		keys[i] = fmt.Sprintf("host-%d", i)
	}
	b.Run("client=fake", func(b *testing.B) {
		for b.Loop() {
			clients := map[string]pool.SSHClient{}
			f := newFactory()
			for _, k := range keys {
				clients[k], _ = f.Dial(context.Background(), k)
			}
			pre := pool.ConnectionFactoryFunc(func(_ context.Context, k string) (pool.SSHClient, error) { return clients[k], nil })
			before, stack := heap(), stackInuse()
			p := pool.NewPool(pre, pool.PoolConfig{MaxConnections: conns, MaxConnectionsPerKey: 1}, nil)
			warm(b, p, keys)
			b.ReportMetric(float64(heap()-before)/conns, "pool-B/conn")
			b.ReportMetric(float64(stackInuse()-stack)/conns, "pool-stack-B/conn")
			_ = p.Close()
		}
	})
	b.Run("client=sshtest", func(b *testing.B) {
		be := newSSHTestBackend(b, keys)
		for b.Loop() {
			before, g0 := heap(), runtime.NumGoroutine()
			p := pool.NewPool(be.factory, pool.PoolConfig{MaxConnections: conns, MaxConnectionsPerKey: 1}, nil)
			warm(b, p, keys)
			b.ReportMetric(float64(heap()-before)/conns, "B/conn")
			b.ReportMetric(float64(runtime.NumGoroutine()-g0)/conns, "goroutines/conn")
			_ = p.Close()
		}
	})
}

// warm opens one idle connection per key.
func warm(b *testing.B, p pool.Pool, keys []string) {
	for _, k := range keys {
		c, err := p.Get(context.Background(), k)
		if err != nil {
			b.Fatal(err)
		}
		_ = p.Release(k, c)
	}
}

// stackInuse returns the memory of goroutine stacks (not in HeapAlloc):
// the pool's death watchers live there.
func stackInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

// heap returns the live heap after a GC.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestEntryLayout keeps what the hot path reads of an entry and of a key
// state in one cache line each: 128- and 192-byte objects are 64-byte
// aligned (Go's size classes carve them from page-aligned spans), so the
// first 64 bytes are one line. At 10,000 keys each extra line is a cache
// miss per Get.
func TestEntryLayout(t *testing.T) {
	size, hot, kSize, kHot := pool.EntryLayout()
	if size != 192 || hot > 64 {
		t.Errorf("poolEntry: %d bytes, hot fields end at %d; want 192 and ≤ 64", size, hot)
	}
	if kSize <= 112 || kSize > 128 || kHot > 64 { // 113–128 bytes: the 128-byte size class
		t.Errorf("keyState: %d bytes, hot fields end at %d; want 113–128 and ≤ 64", kSize, kHot)
	}
}

// BenchmarkRun measures Pool.Run on a warm connection of an in-memory
// client: Get, the command's bookkeeping (latency histogram, tracer check)
// and Release, without the SSH round trip (≥ 0.3 ms on a real server).
func BenchmarkRun(b *testing.B) {
	p, names := benchPool(b, 1, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(ctx, names[0], "ok"); err != nil {
			b.Fatal(err)
		}
	}
}
