package pool_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/sshpool/sshpool/pool"
)

// benchPool returns a pool with one warm connection per key.
func benchPool(b *testing.B, keys int, tr pool.PoolTracer) (pool.Pool, []string) {
	b.Helper()
	cfg := pool.PoolConfig{MaxConnections: keys, MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 8}
	p := pool.NewPool(newFactory(), cfg, tr)
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

// BenchmarkGetRelease measures the hit path: Get + Release of a warm
// connection, on one goroutine.
func BenchmarkGetRelease(b *testing.B) {
	for _, keys := range []int{1, 10, 10000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			p, names := benchPool(b, keys, nil)
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
func BenchmarkGetReleaseParallel(b *testing.B) {
	for _, keys := range []int{1, 10, 10000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			p, names := benchPool(b, keys, nil)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
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

// BenchmarkGetReleaseTracer compares NoopTracer with a real tracer.
func BenchmarkGetReleaseTracer(b *testing.B) {
	for _, tc := range []struct {
		name string
		tr   pool.PoolTracer
	}{{"tracer=noop", pool.NoopTracer{}}, {"tracer=counting", &countTracer{}}} {
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

type countTracer struct {
	pool.NoopTracer
	n int
}

func (c *countTracer) TraceRelease(pool.ReleaseData) { c.n++ }

// BenchmarkIdleMemory reports the pool's own heap per idle connection
// (fake clients, so the figure excludes *ssh.Client).
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 1000
	for b.Loop() {
		f := newFactory()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := pool.NewPool(f, pool.PoolConfig{MaxConnections: conns, MaxConnectionsPerKey: 1}, nil)
		for i := range conns {
			k := fmt.Sprintf("host-%d", i)
			c, _ := p.Get(context.Background(), k)
			_ = p.Release(k, c)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		clientBytes := float64(conns) * float64(fakeClientSize)
		b.ReportMetric((float64(after.HeapAlloc-before.HeapAlloc)-clientBytes)/conns, "pool-B/conn")
		_ = p.Close()
	}
}
