package latency

import (
	"sync"
	"testing"
	"time"
)

func TestRecorderBuckets(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		bucket int
	}{
		{-time.Second, 0}, // clamped to 0
		{0, 0},
		{100 * time.Microsecond, 0}, // bounds are inclusive
		{100*time.Microsecond + 1, 1},
		{3700 * time.Microsecond, 5}, // a command on sshd: (2.5 ms, 5 ms]
		{45 * time.Millisecond, 8},   // a dial to sshd: (25 ms, 50 ms]
		{60 * time.Second, NumBuckets - 2},
		{time.Hour, NumBuckets - 1},
	} {
		var r Recorder
		r.Observe(tc.d)
		h := r.Snapshot()
		if h.Buckets[tc.bucket] != 1 || h.Count != 1 || h.Sum != max(tc.d, 0) {
			t.Errorf("Observe(%v): buckets %v count %d sum %v, want bucket %d", tc.d, h.Buckets, h.Count, h.Sum, tc.bucket)
		}
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r.Observe(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	h := r.Snapshot()
	var sum int64
	for _, n := range h.Buckets {
		sum += n
	}
	if h.Count != 8000 || sum != 8000 {
		t.Fatalf("count %d, buckets sum %d, want 8000", h.Count, sum)
	}
	if want := time.Duration(8000*7999/2) * time.Microsecond; h.Sum != want {
		t.Fatalf("sum %v, want %v", h.Sum, want)
	}
}
