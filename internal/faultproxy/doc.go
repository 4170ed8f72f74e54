// Package faultproxy is a TCP fault-injection proxy for tests, built on
// toxiproxy (github.com/Shopify/toxiproxy/v2) used as a library: no
// toxiproxy server process and no HTTP API, just toxiproxy's Proxy and its
// ToxicCollection running inside the test binary.
//
// Start listens on 127.0.0.1:0 and forwards every connection to an upstream
// address (an sshtest server, a real sshd), so a client dials Addr instead
// of the server:
//
//	srv := sshtest.NewServer(t)
//	px := faultproxy.Start(t, srv.Addr())
//	client, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
//	...
//	f, err := px.AddLatency(50*time.Millisecond, 0, faultproxy.Downstream)
//	...
//	err = f.Remove()
//
// Faults are toxiproxy toxics added to one or both directions of every
// connection, present and future: AddLatency, LimitBandwidth, Stall and
// ResetPeer each return a Fault that Remove takes away again. Disable,
// Enable and CutConnections act on the proxy itself; Heal removes every
// fault and enables the proxy. See each method for what the peers observe.
//
// Upstream means client to server, Downstream server to client, as in
// toxiproxy.
//
// # Logging and globals
//
// Each Proxy has its own toxiproxy ApiServer with a no-op zerolog logger
// and a metrics container on a private Prometheus registry with metrics
// off, so nothing is logged or registered globally. One exception lies in
// toxiproxy: its bandwidth toxic logs through zerolog's global logger, at
// trace level (below zerolog's default global level, so silent) and at warn
// level only when its data cannot be handed on within 5 s while the toxic
// is being removed.
//
// # Goroutines
//
// toxiproxy runs an accept loop per proxy and, per connection and
// direction, a reader, a writer and one goroutine per toxic. Its Stop closes
// the listener and every connection but does not wait for the per-connection
// goroutines; Close (run by the test's cleanup) waits until toxiproxy has
// unregistered every connection, which each one does as the last step of its
// writer goroutine.
package faultproxy
