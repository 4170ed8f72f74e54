package faultproxy

import "github.com/Shopify/toxiproxy/v2/toxics"

// Toxic type names of the two toxics this package adds to toxiproxy's
// registry.
const (
	stallType = "faultproxy_stall"
	resetType = "faultproxy_reset_peer"
)

// Registering toxic types is toxiproxy's extension point (see its
// CREATING_TOXICS.md); the registry is toxiproxy's, written once here.
func init() {
	toxics.Register(stallType, new(stallToxic))
	toxics.Register(resetType, new(resetToxic))
}

// stallToxic drops all data and keeps the connection open: toxiproxy's
// timeout toxic with timeout 0, without its Cleanup. That Cleanup closes
// the stub on removal while the toxic before it may still send to it, which
// blocks that toxic and the link's reader forever (toxiproxy v2.5.0);
// Fault.Remove closes stalled connections itself instead.
type stallToxic struct{}

// Pipe drops its input until interrupted or the input ends.
func (*stallToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
		}
	}
}

// resetToxic ends the link at its first chunk of data, like toxiproxy's
// reset_peer toxic with timeout 0, and then keeps draining its input until
// it ends: toxiproxy's version stops reading, which blocks the toxic before
// it and the link's reader forever. It is a type of its own also because
// toxiproxy type-asserts the link's connections to *net.TCPConn when its
// reset_peer toxic is present at link start, and this package's links write
// through a sink; the proxy sets SO_LINGER 0 itself (see Proxy.ResetPeer).
type resetToxic struct{}

// Pipe closes the stub's output at the first chunk, then drops the rest.
func (*resetToxic) Pipe(stub *toxics.ToxicStub) {
	select {
	case <-stub.Interrupt:
		return
	case c := <-stub.Input:
		stub.Close()
		if c == nil {
			return
		}
	}
	// Closed: InterruptToxic now returns false without signalling, so only
	// the end of the input stops this loop.
	for range stub.Input {
	}
}
