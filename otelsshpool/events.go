package otelsshpool

import (
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/sshpool/sshpool/pool"
)

// Attribute keys of the events.
const (
	KeyStrategy = attribute.Key("sshpool.evict.strategy")
	KeyReason   = attribute.Key("sshpool.reason")
	KeyFrom     = attribute.Key("sshpool.state.from")
	KeyTo       = attribute.Key("sshpool.state.to")
	KeyOp       = attribute.Key("sshpool.op")
	KeyAge      = attribute.Key("sshpool.conn.age_seconds")
	KeyUses     = attribute.Key("sshpool.conn.uses")
	KeyHeld     = attribute.Key("sshpool.lease.held_seconds")
	KeyRTT      = attribute.Key("sshpool.probe.rtt_seconds")
)

// stateChange records an sshpool.state_change event.
func (t *Tracer) stateChange(d pool.StateChangeData) {
	t.event("sshpool.state_change", time.Time{}, d.Err, KeyPoolKey.String(d.Key), KeyConnID.Int64(int64(d.ConnID)),
		KeyFrom.String(string(d.From)), KeyTo.String(string(d.To)), KeyReason.String(string(d.Reason)))
}

// connClose records an sshpool.conn_close event. An eviction is one
// with sshpool.reason "evicted" and sshpool.evict.strategy naming the
// strategy that chose the connection (also set on a "limit" close the
// strategy chose).
func (t *Tracer) connClose(d pool.ConnCloseData) {
	attrs := []attribute.KeyValue{KeyPoolKey.String(d.Key), KeyConnID.Int64(int64(d.ConnID)),
		KeyReason.String(string(d.Reason)), KeyAge.Float64(d.Age.Seconds()), KeyUses.Int64(d.UseCount)}
	if d.Strategy != "" {
		attrs = append(attrs, KeyStrategy.String(d.Strategy))
	}
	t.event("sshpool.conn_close", time.Time{}, d.Err, attrs...)
}

// misuse records an sshpool.misuse event.
func (t *Tracer) misuse(d pool.MisuseData) {
	t.event("sshpool.misuse", time.Time{}, d.Err, KeyPoolKey.String(d.Key), KeyOp.String(d.Op))
}

// healthEvent records an sshpool.health.<type> event: lost,
// unhealthy, replacing, circuit changes, leak, leak-released. A leak's
// stack (DebugLeaks) is not recorded: it can be large and holds the
// caller's code paths.
func (t *Tracer) healthEvent(ev pool.HealthEvent) {
	attrs := []attribute.KeyValue{KeyPoolKey.String(ev.Key)}
	if ev.ConnID != 0 {
		attrs = append(attrs, KeyConnID.Int64(int64(ev.ConnID)))
	}
	if ev.Held > 0 {
		attrs = append(attrs, KeyHeld.Float64(ev.Held.Seconds()))
	}
	if ev.RTT > 0 {
		attrs = append(attrs, KeyRTT.Float64(ev.RTT.Seconds()))
	}
	t.event("sshpool.health."+string(ev.Type), ev.Time, ev.Err, attrs...)
}
