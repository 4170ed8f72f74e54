package pool

import (
	"time"

	"github.com/sshpool/sshpool/internal/latency"
)

// NumLatencyBuckets is the number of buckets of a LatencyHistogram: one per
// bound of LatencyBuckets and one for larger durations.
const NumLatencyBuckets = latency.NumBuckets

// LatencyBuckets returns the upper bounds (inclusive) of a
// LatencyHistogram's buckets, in increasing order: bucket i counts
// durations d with LatencyBuckets()[i-1] < d <= LatencyBuckets()[i], and the
// last bucket those above the largest bound. The slice is a copy.
//
// The bounds are 1-2.5-5 per decade from 100 µs to 10 s, then 30 s and
// 60 s. They are chosen from latencies measured over loopback on a 2-vCPU
// VM (README): a command on an in-process server takes ~0.3 ms, a command
// on OpenSSH sshd ~3.7 ms and the first one on a fresh sshd connection
// ~5 ms; a dial to sshd 38–48 ms, to an in-process server 2.2–2.7 ms; a
// Get that waits for a slot waits about one command's time. Over a WAN
// each of these grows by round trips of 1–300 ms, and dials and waits end
// at DialTimeout or WaitTimeout (seconds). Every one of these figures falls
// inside the range with two or three buckets per decade, so rate() of a
// bucket separates local from remote hosts and the tail from the
// timeouts. Prometheus' default buckets (5 ms–10 s) would put every
// command on a local host into one bucket.
func LatencyBuckets() []time.Duration {
	b := latency.Bounds()
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
