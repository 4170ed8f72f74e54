package pool_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
)

// FuzzUpdateConfig applies arbitrary limits and durations to a live pool
// holding idle and leased connections. An invalid configuration is
// refused with the pool's configuration unchanged; a valid one is applied
// as given, the pool's bookkeeping stays consistent, and Gets keep working
// within the new limits.
//
//	go test -run '^$' -fuzz FuzzUpdateConfig -fuzztime 60s ./pool/
func FuzzUpdateConfig(f *testing.F) {
	f.Add(10, 2, 4, 1, 3, 60, int64(time.Second), int64(time.Minute), int64(time.Hour), int64(0), uint8(0))
	f.Add(1, 1, 1, 0, -1, 1, int64(0), int64(0), int64(0), int64(time.Millisecond), uint8(2))
	f.Add(0, 0, 0, 0, 0, 0, int64(-1), int64(-5), int64(1), int64(1), uint8(9))
	f.Add(100000, 50000, 11, 3, 1000, 100000, int64(1<<62), int64(time.Nanosecond), int64(-time.Hour), int64(time.Hour), uint8(1))
	f.Fuzz(func(t *testing.T, maxConns, perKey, sessions, warm, retries, history int,
		wait, lifetime, idle, health int64, balance uint8) {
		fac := newFactory()
		p := newTestPool(t, fac, testConfig(), nil) // 4 connections, 2 per key, 2 sessions
		held := mustGet(t, p, "a")
		mustRelease(t, p, "b", mustGet(t, p, "b"))
		before := p.Config()
		cfg := pool.PoolConfig{
			MaxConnections: maxConns, MaxConnectionsPerKey: perKey, MaxSessionsPerConnection: sessions,
			WarmupConnections: warm, MaxRetries: retries, HistorySize: history,
			WaitTimeout: time.Duration(wait), MaxLifetime: time.Duration(lifetime),
			MaxIdleTime: time.Duration(idle), HealthInterval: time.Duration(health),
			LoadBalancing: []pool.LoadBalancing{"", pool.LeastLoaded, pool.RoundRobin, pool.PowerOfTwo, "random"}[balance%5],
		}
		verr := pool.ValidatePoolConfig(cfg)
		uerr := p.UpdateConfig(cfg)
		if (verr == nil) != (uerr == nil) {
			t.Fatalf("ValidatePoolConfig = %v but UpdateConfig = %v", verr, uerr)
		}
		after := p.Config()
		if uerr != nil {
			if uerr.Error() == "" {
				t.Fatal("empty error")
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("a refused configuration changed the pool's:\nbefore %+v\nafter  %+v", before, after)
			}
		} else {
			want := cfg
			want.SetDefaults()
			if after.MaxConnections != want.MaxConnections || after.MaxConnectionsPerKey != want.MaxConnectionsPerKey ||
				after.MaxSessionsPerConnection != want.MaxSessionsPerConnection || after.MaxLifetime != want.MaxLifetime {
				t.Fatalf("applied configuration %+v, want %+v", after, want)
			}
		}
		if err := pool.CheckInvariants(p); err != nil {
			t.Fatalf("after UpdateConfig: %v", err)
		}
		mustRelease(t, p, "a", held)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := p.Get(ctx, "c")
		var we *pool.WaitError
		switch {
		case err == nil:
			if err := p.Release("c", c); err != nil {
				t.Fatal(err)
			}
		case errors.As(err, &we) && after.WaitTimeout > 0 && after.WaitTimeout < 5*time.Second:
			// A WaitTimeout shorter than a dial gives up waiting for it.
		default:
			t.Fatalf("Get after UpdateConfig: %v", err)
		}
		if s := p.GetSnapshot(); int(s.Total) > after.MaxConnections {
			t.Fatalf("%d connections, over MaxConnections %d", s.Total, after.MaxConnections)
		}
	})
}
