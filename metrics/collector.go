package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// Pool label values.
const (
	PoolNew    = "new"
	PoolLegacy = "legacy"
)

// Sources are what a Collector reads at each scrape. Any may be nil: its
// families are then described but not collected.
type Sources struct {
	// Pool is the new pool; pool.Pool satisfies it.
	Pool interface{ GetSnapshot() pool.Snapshot }
	// Legacy is the legacy pool; *legacy.ConnectionPool satisfies it.
	Legacy interface{ Stats() legacy.PoolStats }
	// Router is the migration router; *legacy.Router satisfies it.
	Router interface{ Stats() legacy.RouterStats }
	// FlagEvaluations counts flag evaluations; *featureflags.MetricsHook
	// satisfies it.
	FlagEvaluations interface {
		Snapshot() featureflags.MetricsSnapshot
	}
	// FlagProvider reports flag file reloads; *featureflags.FileProvider
	// satisfies it.
	FlagProvider interface {
		Stats() featureflags.ProviderStats
	}
}

// Collector is a prometheus.Collector over Sources; see the package
// documentation for its families. It is safe for concurrent scrapes and
// holds no counters of its own.
type Collector struct {
	src    Sources
	bounds []float64 // pool.LatencyBuckets in seconds
	d      descs
}

// Option configures a Collector.
type Option func(*options)

type options struct {
	constLabels prometheus.Labels
}

// WithConstLabels adds labels with fixed values to every metric, for a
// process that exposes several sets of pools (for example
// {"component": "billing"}). Their names must not be pool, state, reason,
// flag, variant or error_code.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *options) { o.constLabels = l }
}

// NewCollector returns a collector reading s. It does no I/O and keeps
// nothing but s.
func NewCollector(s Sources, opts ...Option) *Collector {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := &Collector{src: s, d: newDescs(o.constLabels)}
	for _, b := range pool.LatencyBuckets() {
		c.bounds = append(c.bounds, b.Seconds())
	}
	return c
}

// Describe sends the descriptors of every family, collected or not.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all {
		ch <- d
	}
}

// Collect reads each source once and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Pool != nil {
		c.collectPool(ch, c.src.Pool.GetSnapshot())
	}
	if c.src.Legacy != nil {
		c.collectLegacy(ch, c.src.Legacy.Stats())
	}
	if c.src.Router != nil {
		c.collectRouter(ch, c.src.Router.Stats())
	}
	if c.src.FlagEvaluations != nil {
		c.collectEvaluations(ch, c.src.FlagEvaluations.Snapshot())
	}
	if c.src.FlagProvider != nil {
		c.collectProvider(ch, c.src.FlagProvider.Stats())
	}
}

// counter sends a counter; see send.
func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, lv ...string) {
	send(ch, d, prometheus.CounterValue, float64(v), lv...)
}

// gauge sends a gauge; see send.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, lv ...string) {
	send(ch, d, prometheus.GaugeValue, float64(v), lv...)
}

// send sends one constant metric. It never panics: a metric that cannot be
// built (which sanitised label values prevent) is sent as an invalid metric,
// which the registry reports as a gathering error.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, lv ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, lv...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

// histogram sends h as a Prometheus histogram with cumulative buckets.
func (c *Collector) histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h pool.LatencyHistogram, lv ...string) {
	buckets := make(map[float64]uint64, len(c.bounds))
	var cum uint64
	for i, b := range c.bounds {
		cum += uint64(max(h.Buckets[i], 0))
		buckets[b] = cum
	}
	m, err := prometheus.NewConstHistogram(d, uint64(max(h.Count, 0)), h.Sum.Seconds(), buckets, lv...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
