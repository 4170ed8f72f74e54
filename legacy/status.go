package legacy

import (
	"sync/atomic"
	"time"
)

// Pool names reported in ConnectionHealthStatus.Pool.
const (
	PoolLegacy = "legacy"
	PoolNew    = "new"
)

// ConnectionHealthStatus is one connection's (or, for the new pool, one
// key's) status, with the old pool's fields and JSON names, so old health
// endpoints keep their shape. The fields after ResponseTime are additions,
// omitted from JSON when zero.
type ConnectionHealthStatus struct {
	// Healthy reports whether the connection can serve a command without
	// being re-established: open and passing its last health check (for
	// the new pool: some connection of the key is usable, and the key's
	// last command did not lose its connection).
	Healthy bool `json:"healthy"`
	// LastUsed is when a command last started, or GetOrCreateConnection
	// last found the connection.
	LastUsed time.Time `json:"last_used"`
	// Age is how long ago the connection was first made (for the new pool:
	// the key first served).
	Age time.Duration `json:"age"`
	// UseCount counts commands and GetOrCreateConnection hits.
	UseCount int64 `json:"use_count"`
	// LastError is the text of the last failure that made the connection
	// unhealthy (a dial, a health check, a lost connection); empty once it
	// recovered.
	LastError string `json:"last_error,omitempty"`
	// ResponseTime is the duration of the last successful health check;
	// zero before the first. (The old pool ran a command on every
	// connection to measure it, under its lock, on every status call.)
	ResponseTime time.Duration `json:"response_time,omitempty"`

	// Pool is the pool the status comes from: PoolLegacy or PoolNew.
	Pool string `json:"pool,omitempty"`
	// InUse is the number of commands running.
	InUse int `json:"in_use,omitempty"`
	// LastHealthCheck is when the last health check ran; zero if none.
	LastHealthCheck time.Time `json:"last_health_check,omitzero"`
	// DroppedLines counts stream lines a slow reader did not take (see
	// PooledConnection.ExecuteCommandStream).
	DroppedLines int64 `json:"dropped_lines,omitempty"`
}

// useStats are the counters behind a ConnectionHealthStatus; all atomic.
type useStats struct {
	created   time.Time
	lastUsed  atomic.Int64 // UnixNano
	useCount  atomic.Int64
	lastCheck atomic.Int64 // UnixNano, 0 if none
	respTime  atomic.Int64 // nanoseconds
	dropped   atomic.Int64
	lastErr   atomic.Pointer[string]
}

func (s *useStats) init(now time.Time) {
	s.created = now
	s.lastUsed.Store(now.UnixNano())
}

// touch records a use at now.
func (s *useStats) touch(now time.Time) {
	s.lastUsed.Store(now.UnixNano())
	s.useCount.Add(1)
}

// fail records err as the last error.
func (s *useStats) fail(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// recovered clears the last error.
func (s *useStats) recovered() {
	if s.lastErr.Load() != nil {
		s.lastErr.Store(nil)
	}
}

// checked records a health check at now that took d (0 when it failed).
func (s *useStats) checked(now time.Time, d time.Duration) {
	s.lastCheck.Store(now.UnixNano())
	if d > 0 {
		s.respTime.Store(int64(d))
	}
}

// fill sets the fields of st that useStats knows.
func (s *useStats) fill(st *ConnectionHealthStatus, now time.Time) {
	st.LastUsed = time.Unix(0, s.lastUsed.Load())
	st.Age = now.Sub(s.created)
	st.UseCount = s.useCount.Load()
	st.ResponseTime = time.Duration(s.respTime.Load())
	st.DroppedLines = s.dropped.Load()
	if t := s.lastCheck.Load(); t != 0 {
		st.LastHealthCheck = time.Unix(0, t)
	}
	if p := s.lastErr.Load(); p != nil {
		st.LastError = *p
	}
}
