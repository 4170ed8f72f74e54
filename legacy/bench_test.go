package legacy_test

import (
	"context"
	"testing"

	"github.com/sshpool/sshpool/legacy"
)


// BenchmarkRouterDecision measures one routing decision with the in-memory
// provider on an isolated API (two flag evaluations, counters, hook-free):
// path=command is what every command pays (cached key and evaluation
// context), path=Decide builds them per call.
func BenchmarkRouterDecision(b *testing.B) {
	f := &fakeFactory{}
	lp := legacy.NewConnectionPool(f, legacy.WithHealthInterval(0), legacy.WithStaleSweep(0, 0))
	b.Cleanup(lp.Stop)
	for _, pct := range []int{0, 50, 100} {
		client, _ := newFlags(b, flagSet(pct, false))
		r := legacy.NewRouter(lp, lp, client)
		s := &legacy.Server{ID: "bench-1", Name: "bench", Host: "10.0.0.1", AppUsername: "app"}
		conn, err := r.GetOrCreateConnection(s, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("path=command/pct="+itoa(pct), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				legacy.DecideConn(conn)
			}
		})
		b.Run("path=command/pct="+itoa(pct)+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					legacy.DecideConn(conn)
				}
			})
		})
		b.Run("path=Decide/pct="+itoa(pct), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Decide(context.Background(), s, false)
			}
		})
	}
}
