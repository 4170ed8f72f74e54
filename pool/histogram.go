package pool

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the latency histograms' buckets,
// 1-2.5-5 per decade from 100 µs to 10 s, then 30 s and 60 s. They are
// chosen from latencies measured over loopback on a 2-vCPU VM (README,
// shared baselines): a command on an in-process server takes ~0.3 ms, a
// command on OpenSSH sshd ~3.7 ms and the first one on a fresh sshd
// connection ~5 ms; a dial to sshd 38–48 ms, to an in-process server
// 2.2–2.7 ms; a Get that waits for a slot waits about one command's time.
// Over a WAN each of these grows by round trips of 1–300 ms, and dials and
// waits end at DialTimeout or WaitTimeout (seconds). Every one of these
// figures falls inside the range with two or three buckets per decade, so
// rate() of a bucket separates local from remote hosts and the tail from
// the timeouts. Prometheus' default buckets (5 ms–10 s) would put every
// command on a local host into one bucket.
var latencyBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// NumLatencyBuckets is the number of buckets of a LatencyHistogram: one per
// bound of LatencyBuckets and one for larger durations.
const NumLatencyBuckets = len(latencyBounds) + 1

// LatencyBuckets returns the upper bounds (inclusive) of a
// LatencyHistogram's buckets, in increasing order: bucket i counts
// durations d with LatencyBuckets()[i-1] < d <= LatencyBuckets()[i], and the
// last bucket those above the largest bound. The slice is a copy.
func LatencyBuckets() []time.Duration {
	b := latencyBounds
	return b[:]
}

// LatencyHistogram is a point-in-time copy of a latency distribution, as a
// Snapshot reports it.
type LatencyHistogram struct {
	// Buckets counts observations per bucket (not cumulative); see
	// LatencyBuckets for the bounds.
	Buckets [NumLatencyBuckets]int64 `json:"buckets"`
	// Count is the number of observations, the sum of Buckets.
	Count int64 `json:"count"`
	// Sum is the total of the observed durations.
	Sum time.Duration `json:"sum"`
}

// Mean returns Sum/Count, or 0 without observations.
func (h LatencyHistogram) Mean() time.Duration { return avg(int64(h.Sum), h.Count) }

// LatencyRecorder records durations into the buckets of LatencyBuckets
// without locks: one atomic add for the bucket and one for the sum. The
// zero value is ready; it must not be copied after first use. The pool uses
// it for Get waits, dials and commands; package legacy for the legacy
// pool's, so both report the same buckets.
type LatencyRecorder struct {
	buckets [NumLatencyBuckets]atomic.Int64
	sum     atomic.Int64 // nanoseconds
}

// Observe records d; a negative d counts as 0.
func (r *LatencyRecorder) Observe(d time.Duration) {
	d = max(d, 0)
	r.buckets[bucketIndex(d)].Add(1)
	r.sum.Add(int64(d))
}

// Snapshot returns the recorded distribution. Under concurrent Observe
// calls the buckets, Count and Sum are each current but may disagree by
// the observations in flight.
func (r *LatencyRecorder) Snapshot() LatencyHistogram {
	var h LatencyHistogram
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
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}
