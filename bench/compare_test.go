package bench

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/puddle/v2"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/pool"
)

// nopClient is an SSHClient that does nothing, so the benchmarks measure
// only the pools' bookkeeping.
type nopClient struct{ done chan struct{} }

func (nopClient) Run(context.Context, string) (pool.Result, error)        { return pool.Result{}, nil }
func (nopClient) Exec(context.Context, pool.Command) (pool.Result, error) { return pool.Result{}, nil }
func (nopClient) NewSession(context.Context) (*ssh.Session, error)        { return nil, nil }
func (nopClient) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, nil
}
func (nopClient) SendKeepalive(context.Context) (time.Duration, error) { return 0, nil }
func (nopClient) Alive() bool                                          { return true }
func (c nopClient) Done() <-chan struct{}                              { return c.done }
func (nopClient) Err() error                                           { return nil }
func (nopClient) Client() *ssh.Client                                  { return nil }
func (nopClient) RemoteAddr() net.Addr                                 { return nil }
func (nopClient) Close() error                                         { return nil }

// NotifyEnd implements pool.EndNotifier, as sshconn.Client does; a
// nopClient never ends.
func (nopClient) NotifyEnd(func()) {}

func newSSHPool(b *testing.B) pool.Pool {
	f := pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
		return nopClient{done: make(chan struct{})}, nil
	})
	p := pool.NewPool(f, pool.PoolConfig{MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 8}, nil)
	b.Cleanup(func() { _ = p.Close() })
	c, err := p.Get(context.Background(), "web1")
	if err != nil {
		b.Fatal(err)
	}
	_ = p.Release("web1", c)
	return p
}

func newPuddle(b *testing.B) *puddle.Pool[*int] {
	p, err := puddle.NewPool(&puddle.Config[*int]{
		Constructor: func(context.Context) (*int, error) { return new(int), nil },
		Destructor:  func(*int) {},
		MaxSize:     8,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	r, err := p.Acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	r.Release()
	return p
}

// BenchmarkAcquireRelease compares sshpool Get+Release (one key, one warm
// connection with 8 session slots) with puddle Acquire+Release (8
// resources), on one goroutine and under RunParallel.
func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=sshpool", func(b *testing.B) {
		p := newSSHPool(b)
		b.ReportAllocs()
		for b.Loop() {
			c, _ := p.Get(ctx, "web1")
			_ = p.Release("web1", c)
		}
	})
	b.Run("impl=puddle", func(b *testing.B) {
		p := newPuddle(b)
		b.ReportAllocs()
		for b.Loop() {
			r, _ := p.Acquire(ctx)
			r.Release()
		}
	})
	b.Run("impl=sshpool/parallel", func(b *testing.B) {
		p := newSSHPool(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, _ := p.Get(ctx, "web1")
				_ = p.Release("web1", c)
			}
		})
	})
	b.Run("impl=puddle/parallel", func(b *testing.B) {
		p := newPuddle(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, _ := p.Acquire(ctx)
				r.Release()
			}
		})
	})
}

// keyNames returns n keys in a fixed random order, so a sweep over them
// jumps around memory as a service talking to many hosts does.
func keyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user@host-%d.example.com:22", i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// floorHandle is what the floor allocates per operation: a 32-byte handle
// with pointers, like the pool's lease.
type floorHandle struct {
	slot     *atomic.Int64
	owner    *map[string]*atomic.Int64
	released atomic.Bool
	_        int64 // the lease's start time: same size, 32 bytes
}

// BenchmarkKeys sweeps Get+Release over 10 and 10,000 keys (one warm
// connection each) for sshpool, for a map of puddle pools (one per key,
// the obvious way to key puddle), and for three floors. floor: a Go map
// lookup, one 32-byte pointerful allocation and two atomic adds on per-key
// memory, the least any keyed pool that hands out a fresh handle can do.
// floor-hash: only hash the key (no table), allocate and add. floor-nokey:
// the same without reading the key. The ratio keys=10000 / keys=10 of a
// floor is what this machine's caches charge for the larger working set,
// whatever the pool's design.
func BenchmarkKeys(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 10000} {
		names := keyNames(n)
		b.Run(fmt.Sprintf("impl=sshpool/keys=%d", n), func(b *testing.B) {
			f := pool.ConnectionFactoryFunc(func(context.Context, string) (pool.SSHClient, error) {
				return nopClient{done: make(chan struct{})}, nil
			})
			p := pool.NewPool(f, pool.PoolConfig{MaxConnections: n, MaxConnectionsPerKey: 1, MaxSessionsPerConnection: 8}, nil)
			b.Cleanup(func() { _ = p.Close() })
			for _, k := range names {
				c, err := p.Get(ctx, k)
				if err != nil {
					b.Fatal(err)
				}
				_ = p.Release(k, c)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := names[i%n]
				c, err := p.Get(ctx, k)
				if err != nil {
					b.Fatal(err)
				}
				_ = p.Release(k, c)
			}
		})
		b.Run(fmt.Sprintf("impl=puddle-map/keys=%d", n), func(b *testing.B) {
			pools := make(map[string]*puddle.Pool[*int], n)
			for _, k := range names {
				pools[k] = newPuddle(b)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r, err := pools[names[i%n]].Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				r.Release()
			}
		})
		// The two lowest floors have no per-key table at all: a fixed
		// 1,024-slot array (8 KB, always in L1) stands in for the
		// per-key state. floor-hash reads the key's bytes (it hashes
		// them); floor-nokey does not even do that, so its keys=10000 /
		// keys=10 ratio is what the sweep itself (the 160 KB slice of
		// keys and the allocation stream) costs on this machine.
		b.Run(fmt.Sprintf("impl=floor-hash/keys=%d", n), func(b *testing.B) {
			seed := maphash.MakeSeed()
			var slots [1024]atomic.Int64
			var h *floorHandle
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s := &slots[maphash.String(seed, names[i%n])%1024]
				s.Add(1)
				h = &floorHandle{slot: s}
				h.released.Store(true)
				s.Add(-1)
			}
			_ = h
		})
		b.Run(fmt.Sprintf("impl=floor-nokey/keys=%d", n), func(b *testing.B) {
			var slots [1024]atomic.Int64
			var h *floorHandle
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s := &slots[len(names[i%n])%1024]
				s.Add(1)
				h = &floorHandle{slot: s}
				h.released.Store(true)
				s.Add(-1)
			}
			_ = h
		})
		b.Run(fmt.Sprintf("impl=floor/keys=%d", n), func(b *testing.B) {
			m := make(map[string]*atomic.Int64, n)
			for _, k := range names {
				m[k] = new(atomic.Int64)
			}
			var h *floorHandle
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s := m[names[i%n]]
				s.Add(1)
				h = &floorHandle{slot: s, owner: &m}
				h.released.Store(true)
				s.Add(-1)
			}
			_ = h
		})
	}
}

// BenchmarkSharedSlot isolates what two goroutines on one key pay: every
// Get+Release of a key's connection writes that connection's slot word, so
// two CPUs hand its cache line back and forth. It runs sshpool's
// Get+Release on one key (one connection, 8 slots) and two floors, each on
// one goroutine (par=1) and under RunParallel (par=procs, GOMAXPROCS
// goroutines): floor-add takes and returns a slot with one atomic add each
// and allocates a 32-byte handle, the least any pool with a shared
// per-connection count does; floor-cas takes the slot as the pool does, a
// load and a compare-and-swap that refuses a full connection. The pool's
// par=procs/par=1 ratio close to the floors' means the rest is the cache
// line, not the pool.
func BenchmarkSharedSlot(b *testing.B) {
	ctx := context.Background()
	impls := []struct {
		name string
		op   func(b *testing.B) func()
	}{
		{"sshpool", func(b *testing.B) func() {
			p := newSSHPool(b)
			return func() {
				c, _ := p.Get(ctx, "web1")
				_ = p.Release("web1", c)
			}
		}},
		{"floor-add", func(*testing.B) func() {
			var (
				slot atomic.Int64
				last *floorHandle // keeps the handle on the heap, as a lease is
			)
			return func() {
				slot.Add(1)
				last = &floorHandle{slot: &slot}
				last.released.Store(true)
				slot.Add(-1)
			}
		}},
		{"floor-cas", func(*testing.B) func() {
			var (
				slot atomic.Int64
				last *floorHandle
			)
			return func() {
				for {
					v := slot.Load()
					if v >= 8 {
						continue
					}
					if slot.CompareAndSwap(v, v+1) {
						break
					}
				}
				last = &floorHandle{slot: &slot}
				last.released.Store(true)
				slot.Add(-1)
			}
		}},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name+"/par=1", func(b *testing.B) {
			op := impl.op(b)
			b.ReportAllocs()
			for b.Loop() {
				op()
			}
		})
		b.Run("impl="+impl.name+"/par=procs", func(b *testing.B) {
			op := impl.op(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					op()
				}
			})
		})
	}
}
