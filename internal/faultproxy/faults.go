package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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
	p     *Proxy
	names []string
}

// Remove takes the fault away. Connections it already broke stay broken.
// Removing a fault twice, or after RemoveAll, returns an error wrapping
// toxiproxy.ErrToxicNotFound.
func (f *Fault) Remove() error {
	var errs []error
	for _, name := range f.names {
		if err := f.p.tp.Toxics.RemoveToxic(context.Background(), name); err != nil {
			errs = append(errs, fmt.Errorf("faultproxy: remove %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
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

// Stall black-holes dir: the proxy keeps both TCP connections open and
// keeps reading, but drops the data instead of forwarding it (toxiproxy's
// timeout toxic with timeout 0). Each peer sees a connection that accepts
// writes and never answers nor closes, as when the other host has vanished
// without a reset. Removing the fault closes the connections it stalled
// (toxiproxy's timeout toxic closes them on removal; they have lost data),
// so after Remove or Heal only new connections work.
func (p *Proxy) Stall(dir Direction) (*Fault, error) {
	return p.add("timeout", dir, map[string]int64{"timeout": 0})
}

// ResetPeer resets connections after dir carries data (toxiproxy's
// reset_peer toxic with timeout 0): at the next chunk in dir the proxy
// closes that connection on both sides. A connection accepted while the
// fault is in place is closed with SO_LINGER 0, so its peers get a TCP RST
// (ECONNRESET); toxiproxy does not set SO_LINGER on connections that
// existed before, so those peers see an orderly close (EOF). An idle
// connection is untouched until it carries data in dir.
func (p *Proxy) ResetPeer(dir Direction) (*Fault, error) {
	return p.add("reset_peer", dir, map[string]int64{"timeout": 0})
}

// RemoveAll removes every fault from the proxy.
func (p *Proxy) RemoveAll() {
	p.tp.Toxics.ResetToxics(context.Background())
}

// toxicSpec is the JSON toxiproxy's AddToxicJson reads.
type toxicSpec struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float32          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes"`
}

// add adds a toxic of type typ with attrs to each stream of dir. If one
// direction fails, the toxic already added to the other is removed.
func (p *Proxy) add(typ string, dir Direction, attrs map[string]int64) (*Fault, error) {
	streams, err := dir.streams()
	if err != nil {
		return nil, err
	}
	f := &Fault{p: p}
	for _, stream := range streams {
		spec := toxicSpec{Name: fmt.Sprintf("%s_%s_%d", typ, stream, p.seq.Add(1)),
			Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs}
		if err := p.addToxic(spec); err != nil {
			return nil, errors.Join(err, f.Remove())
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
