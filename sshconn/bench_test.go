package sshconn_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
)

// benchServer is one server under benchmark: an in-process sshtest server or
// a private real sshd.
type benchServer struct {
	name   string
	target func(b *testing.B) sshconn.Target
}

func benchServers() []benchServer {
	return []benchServer{
		{"sshtest", func(b *testing.B) sshconn.Target { return newEnv(b).target() }},
		{"sshd", func(b *testing.B) sshconn.Target { return newSSHD(b).target() }},
	}
}

func benchFactory(quickAck bool) *sshconn.Factory {
	return newFactory(nil, sshconn.WithQuickAck(quickAck))
}

// BenchmarkDial measures a full dial (TCP, key exchange, publickey auth)
// and Close.
func BenchmarkDial(b *testing.B) {
	for _, s := range benchServers() {
		b.Run("server="+s.name, func(b *testing.B) {
			tgt := s.target(b)
			f := benchFactory(true)
			b.ReportAllocs()
			for b.Loop() {
				c, err := f.DialTarget(context.Background(), "bench", tgt)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkFirstSession measures Run("true") on a freshly dialled
// connection (the dial is not timed), with and without re-armed
// TCP_QUICKACK: the 40 ms first-session stall of baselines.md.
func BenchmarkFirstSession(b *testing.B) {
	for _, s := range benchServers() {
		for _, qa := range []bool{true, false} {
			b.Run("server="+s.name+"/quickack="+onOff(qa), func(b *testing.B) {
				tgt := s.target(b)
				f := benchFactory(qa)
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					c, err := f.DialTarget(context.Background(), "bench", tgt)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, err := c.Run(context.Background(), "true"); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					c.Close()
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkLaterSessions measures NewSession+Run("true")+Close on a warm
// connection.
func BenchmarkLaterSessions(b *testing.B) {
	for _, s := range benchServers() {
		for _, qa := range []bool{true, false} {
			b.Run("server="+s.name+"/quickack="+onOff(qa), func(b *testing.B) {
				c := mustDial(b, s.target(b), sshconn.WithQuickAck(qa))
				mustRun(b, c, "true")
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Run(context.Background(), "true"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkKeepalive measures one keepalive@openssh.com round trip.
func BenchmarkKeepalive(b *testing.B) {
	for _, s := range benchServers() {
		b.Run("server="+s.name, func(b *testing.B) {
			c := mustDial(b, s.target(b))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.SendKeepalive(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// BenchmarkLaterSessionsParallel runs Run("true") from 8 goroutines
// (4×GOMAXPROCS on these machines) on one connection. sshd frees session
// slots asynchronously, so even below MaxSessions (10) opens are refused
// ("no more sessions" in sshd's log, failure.SessionLimit here); such a run is
// retried after 1 ms and counted as refused/op.
func BenchmarkLaterSessionsParallel(b *testing.B) {
	for _, s := range benchServers() {
		b.Run("server="+s.name, func(b *testing.B) {
			c := mustDial(b, s.target(b))
			var refused atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					runRetryingLimit(b, c, &refused)
				}
			})
			b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
		})
	}
}

func runRetryingLimit(b *testing.B, c *sshconn.Client, refused *atomic.Int64) {
	for {
		_, err := c.Run(context.Background(), "true")
		if failure.Classify(err) != failure.SessionLimit {
			if err != nil {
				b.Error(err)
			}
			return
		}
		refused.Add(1)
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkIdleClientMemory reports the client-side heap and goroutines of
// one idle Client connected to a real sshd (an out-of-process server, so
// every goroutine counted is the client's). Baseline for a bare
// *ssh.Client: ≈38 KB heap+stack, 6 goroutines.
func BenchmarkIdleClientMemory(b *testing.B) {
	tgt := newSSHD(b).target()
	f := benchFactory(true)
	const n = 20
	clients := make([]*sshconn.Client, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for range n {
		c, err := f.DialTarget(context.Background(), "mem", tgt)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for b.Loop() {
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/client")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/client")
}
