package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2"
)

// Direction selects which way through the proxy a fault acts on.
type Direction int

const (
	// Upstream is data from the client to the server.
	Upstream Direction = 1 << iota
	// Downstream is data from the server to the client.
	Downstream
	// Both is Upstream and Downstream; a fault on Both is one toxic per
	// direction.
	Both = Upstream | Downstream
)

// String returns "upstream", "downstream" or "both".
func (d Direction) String() string {
	switch d {
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// streams returns toxiproxy's stream names for d.
func (d Direction) streams() ([]string, error) {
	switch d {
	case Upstream:
		return []string{"upstream"}, nil
	case Downstream:
		return []string{"downstream"}, nil
	case Both:
		return []string{"upstream", "downstream"}, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrDirection, int(d))
}

// Fault is a fault added to a Proxy: one toxiproxy toxic per direction.
type Fault struct {
	p      *Proxy
	typ    string
	names  []string
	remove sync.Once
}

// Remove takes the fault away. Connections it already broke stay broken;
// removing a Stall closes the connections it stalled, since they have lost
// data. Remove is idempotent; after RemoveAll it does nothing.
func (f *Fault) Remove() error {
	var err error
	f.remove.Do(func() { err = f.p.removeFault(f) })
	return err
}

// AddLatency delays every chunk of data in dir by latency ± jitter
// (toxiproxy's latency toxic, millisecond resolution). A round trip through
// a proxy with latency L on Both takes at least 2L; on one direction, L.
func (p *Proxy) AddLatency(latency, jitter time.Duration, dir Direction) (*Fault, error) {
	return p.add("latency", dir, map[string]int64{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// LimitBandwidth limits dir to kbPerSec kilobytes (1000 bytes) per second
// per connection (toxiproxy's bandwidth toxic). kbPerSec must be positive:
// toxiproxy treats 0 as unlimited; use Stall to stop data.
func (p *Proxy) LimitBandwidth(kbPerSec int, dir Direction) (*Fault, error) {
	if kbPerSec <= 0 {
		return nil, fmt.Errorf("faultproxy: bandwidth %d KB/s: must be positive", kbPerSec)
	}
	return p.add("bandwidth", dir, map[string]int64{"rate": int64(kbPerSec)})
}

// Stall black-holes dir on every connection: the proxy keeps both TCP
// connections open and keeps reading, but drops the data instead of
// forwarding it (toxiproxy's timeout toxic with timeout 0). Each peer sees
// a connection that takes writes and never answers nor closes, as when the
// other host has vanished without a reset: a keepalive with want-reply
// never returns. Removing the fault (Remove, RemoveAll, Heal) closes every
// connection, since they have lost data; new ones then work.
func (p *Proxy) Stall(dir Direction) (*Fault, error) {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	f, err := p.add(stallType, dir, nil)
	if err == nil {
		p.stalls.Add(1)
	}
	return f, err
}

// ResetPeer resets every connection when it next carries data in dir, as
// toxiproxy's reset_peer toxic with timeout 0 does: the proxy closes that
// connection on both sides with SO_LINGER 0, so both peers get a TCP RST
// (ECONNRESET) rather than EOF. A connection idle in dir is untouched until
// it carries data; a new connection is reset by the SSH banner exchange.
// Removing the fault restores orderly closes.
func (p *Proxy) ResetPeer(dir Direction) (*Fault, error) {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	p.resets.Add(1)
	p.setLingerAll(0)
	f, err := p.add(resetType, dir, nil)
	if err != nil {
		p.resetRemoved()
	}
	return f, err
}

// ForgetConnections makes the proxy behave like a server host that
// rebooted: every connection open now has lost its server-side state
// without either peer being told, so it looks alive to the client until
// the client next sends (or the server next sends) data, which is answered
// with a TCP RST to both peers. Connections opened afterwards are not
// affected, and nothing is left to remove. It returns the number of
// connections forgotten.
func (p *Proxy) ForgetConnections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.forgotten.Store(true)
	}
	return len(p.conns)
}

// RemoveAll removes every fault from the proxy, with the effects of each
// fault's Remove.
func (p *Proxy) RemoveAll() {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	p.tp.Toxics.ResetToxics(context.Background())
	if p.stalls.Swap(0) > 0 {
		p.CutConnections()
	}
	if p.resets.Swap(0) > 0 {
		p.setLingerAll(-1)
	}
}

// removeFault removes f's toxics and undoes its side effects.
func (p *Proxy) removeFault(f *Fault) error {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	var errs []error
	found := false
	for _, name := range f.names {
		err := p.tp.Toxics.RemoveToxic(context.Background(), name)
		if errors.Is(err, toxiproxy.ErrToxicNotFound) {
			continue // removed by RemoveAll
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("faultproxy: remove %s: %w", name, err))
		}
		found = true
	}
	if !found {
		return errors.Join(errs...)
	}
	switch f.typ {
	case stallType:
		p.stalls.Add(-1)
		p.CutConnections()
	case resetType:
		p.resetRemoved()
	}
	return errors.Join(errs...)
}

// resetRemoved records that a ResetPeer fault is gone; with the last one,
// connections close in order again.
func (p *Proxy) resetRemoved() {
	if p.resets.Add(-1) == 0 {
		p.setLingerAll(-1)
	}
}

// toxicSpec is the JSON toxiproxy's AddToxicJson reads.
type toxicSpec struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float32          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes,omitempty"`
}

// add adds a toxic of type typ with attrs to each stream of dir. If one
// direction fails, the toxic already added to the other is removed.
func (p *Proxy) add(typ string, dir Direction, attrs map[string]int64) (*Fault, error) {
	streams, err := dir.streams()
	if err != nil {
		return nil, err
	}
	f := &Fault{p: p, typ: typ}
	for _, stream := range streams {
		spec := toxicSpec{Name: fmt.Sprintf("%s_%s_%d", typ, stream, p.seq.Add(1)),
			Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs}
		if err := p.addToxic(spec); err != nil {
			for _, name := range f.names {
				err = errors.Join(err, p.tp.Toxics.RemoveToxic(context.Background(), name))
			}
			return nil, err
		}
		f.names = append(f.names, spec.Name)
	}
	return f, nil
}

// addToxic adds one toxic through toxiproxy's JSON entry point, the one
// public way to build a configured toxic.
func (p *Proxy) addToxic(spec toxicSpec) error {
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("faultproxy: %s: %w", spec.Type, err)
	}
	if _, err := p.tp.Toxics.AddToxicJson(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("faultproxy: add %s %s: %w", spec.Type, spec.Stream, err)
	}
	return nil
}
