package bench

import (
	"context"
	"net"
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
