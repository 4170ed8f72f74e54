// Package latency records durations into fixed buckets without locks, for
// the latency histograms package pool and package legacy report, so both
// use the same buckets. Package pool documents the bounds
// (pool.LatencyBuckets) and the snapshot type (pool.LatencyHistogram,
// which Counts converts to).
package latency

import (
	"sync/atomic"
	"time"
)

// bounds are the upper bounds (inclusive) of the buckets, in increasing
// order; pool.LatencyBuckets says why these.
var bounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// NumBuckets is the number of buckets: one per bound and one for larger
// durations.
const NumBuckets = len(bounds) + 1

// Bounds returns a copy of the buckets' upper bounds.
func Bounds() [NumBuckets - 1]time.Duration { return bounds }

// Counts is a point-in-time copy of a Recorder. It has the fields of
// pool.LatencyHistogram, which it converts to.
type Counts struct {
	Buckets [NumBuckets]int64 // observations per bucket (not cumulative)
	Count   int64             // the number of observations, the sum of Buckets
	Sum     time.Duration     // the total of the observed durations
}

// Recorder records durations into the buckets of Bounds without locks:
// one atomic add for the bucket and one for the sum. The zero value is
// ready; it must not be copied after first use.
type Recorder struct {
	buckets [NumBuckets]atomic.Int64
	sum     atomic.Int64 // nanoseconds
}

// Observe records d; a negative d counts as 0.
func (r *Recorder) Observe(d time.Duration) {
	d = max(d, 0)
	r.buckets[bucketIndex(d)].Add(1)
	r.sum.Add(int64(d))
}

// Snapshot returns the recorded distribution. Under concurrent Observe
// calls the buckets, Count and Sum are each current but may disagree by
// the observations in flight.
func (r *Recorder) Snapshot() Counts {
	var h Counts
	for i := range r.buckets {
		n := r.buckets[i].Load()
		h.Buckets[i] = n
		h.Count += n
	}
	h.Sum = time.Duration(r.sum.Load())
	return h
}

// bucketIndex returns the bucket of d: the first bound >= d, or the
// overflow bucket. A linear scan: typical latencies sit in the first half
// of the 18 bounds, and a comparison costs less than a branchy search.
func bucketIndex(d time.Duration) int {
	for i, b := range bounds {
		if d <= b {
			return i
		}
	}
	return len(bounds)
}
