package sshconn_test

import (
	"context"
	"testing"

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
