package featureflags

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/open-feature/go-sdk/openfeature"
)

// MaxMetricsSeries bounds the number of distinct (flag, reason, variant, error
// code) series a [MetricsHook] keeps; evaluations beyond it are counted in
// Total and Overflow only.
const MaxMetricsSeries = 1024

// EvaluationKey identifies one series of evaluation counts.
type EvaluationKey struct {
	Flag      string
	Reason    openfeature.Reason
	Variant   string                // "" when no variant was chosen
	ErrorCode openfeature.ErrorCode // "" unless Reason is ERROR
}

// MetricsSnapshot is a point-in-time copy of a [MetricsHook]'s counters; all
// are cumulative since the hook was created.
type MetricsSnapshot struct {
	Total        int64                           // every evaluation seen
	Errors       int64                           // evaluations that ended with an error code
	ByKey        map[EvaluationKey]int64         // per flag × reason × variant × error code
	ErrorsByCode map[openfeature.ErrorCode]int64 // per error code, all flags
	Overflow     int64                           // evaluations not in ByKey (series limit reached)
}

// MetricsHook is an OpenFeature hook that counts evaluations per flag, reason,
// variant and error code. Its Finally stage runs on the evaluating goroutine
// after every evaluation, including errors and provider-not-ready short
// circuits; it never blocks: counting is an atomic add on an existing series,
// and only the first evaluation of a new series takes a mutex. The zero value
// is ready to use; attach it with API.AddHooks or Client.AddHooks.
type MetricsHook struct {
	openfeature.UnimplementedHook

	// mu serialises the creation of new series (copy-on-write of series);
	// readers and counters never take it.
	mu     sync.Mutex
	series atomic.Pointer[map[EvaluationKey]*atomic.Int64]

	total    atomic.Int64
	errors   atomic.Int64
	overflow atomic.Int64
}

// NewMetricsHook returns an empty MetricsHook.
func NewMetricsHook() *MetricsHook { return &MetricsHook{} }

// Finally counts one evaluation.
func (h *MetricsHook) Finally(_ context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	h.total.Add(1)
	if d.ErrorCode != "" {
		h.errors.Add(1)
	}
	key := EvaluationKey{Flag: hc.FlagKey(), Reason: d.Reason, Variant: d.Variant, ErrorCode: d.ErrorCode}
	if c := h.counter(key); c != nil {
		c.Add(1)
		return
	}
	h.overflow.Add(1)
}

// counter returns the series for key, creating it if there is room.
func (h *MetricsHook) counter(key EvaluationKey) *atomic.Int64 {
	if m := h.series.Load(); m != nil {
		if c, ok := (*m)[key]; ok {
			return c
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur map[EvaluationKey]*atomic.Int64
	if m := h.series.Load(); m != nil {
		cur = *m
	}
	if c, ok := cur[key]; ok {
		return c
	}
	if len(cur) >= MaxMetricsSeries {
		return nil
	}
	next := make(map[EvaluationKey]*atomic.Int64, len(cur)+1)
	maps.Copy(next, cur)
	c := new(atomic.Int64)
	next[key] = c
	h.series.Store(&next)
	return c
}

// Snapshot copies the counters. Counts taken concurrently with evaluations may
// be mutually a few evaluations apart.
func (h *MetricsHook) Snapshot() MetricsSnapshot {
	s := MetricsSnapshot{
		Total:        h.total.Load(),
		Errors:       h.errors.Load(),
		Overflow:     h.overflow.Load(),
		ByKey:        map[EvaluationKey]int64{},
		ErrorsByCode: map[openfeature.ErrorCode]int64{},
	}
	if m := h.series.Load(); m != nil {
		for k, c := range *m {
			n := c.Load()
			s.ByKey[k] = n
			if k.ErrorCode != "" {
				s.ErrorsByCode[k.ErrorCode] += n
			}
		}
	}
	return s
}

// LogHook is an OpenFeature hook that logs every evaluation at debug level:
// flag key, type, reason, variant, and error code and message. It never logs
// the evaluation context (targeting key, host, user) or the value. Its Finally
// stage runs on the evaluating goroutine after every evaluation and costs one
// Enabled check when debug logging is off.
type LogHook struct {
	openfeature.UnimplementedHook
	logger *slog.Logger
}

// NewLogHook returns a LogHook writing to logger (nil: slog.Default()).
func NewLogHook(logger *slog.Logger) *LogHook {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogHook{logger: logger}
}

// Finally logs one evaluation.
func (h *LogHook) Finally(ctx context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	if !h.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("flag", hc.FlagKey()),
		slog.String("type", hc.FlagType().String()),
		slog.String("reason", string(d.Reason)),
		slog.String("variant", d.Variant),
	}
	if d.ErrorCode != "" {
		attrs = append(attrs,
			slog.String("errorCode", string(d.ErrorCode)),
			slog.String("error", d.ErrorMessage))
	}
	h.logger.LogAttrs(ctx, slog.LevelDebug, "featureflags: flag evaluated", attrs...)
}
