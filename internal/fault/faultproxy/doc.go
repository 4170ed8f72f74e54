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
// ResetPeer each return a Fault that Remove takes away again; RemoveAll
// removes them all. Disable, Enable, CutConnections and ForgetConnections
// act on the proxy itself; Heal removes every fault and enables the proxy. SetUpstream
// points new connections elsewhere. See each method for what the peers
// observe.
//
// Upstream means client to server, Downstream server to client, as in
// toxiproxy.
//
// # How toxiproxy is used
//
// The proxy accepts connections and dials the upstream itself, then hands
// each pair to toxiproxy's ToxicCollection.StartLink, which runs toxiproxy's
// link (reader, toxic chain, writer) in each direction. Latency and
// bandwidth are toxiproxy's latency and bandwidth toxics. Stall and
// ResetPeer are two small toxics registered with toxiproxy's registry
// (toxics.Register), equivalent to its timeout (timeout 0) and reset_peer
// (timeout 0) toxics but without two v2.5.0 defects that leak goroutines:
// its timeout toxic closes its stub on removal and its reset_peer toxic
// stops reading after the reset, and either way the toxic before it and the
// link's reader then block on a channel send forever. The proxy does not
// run toxiproxy's own Proxy.Start accept loop for a third such defect: a
// link's writer returns at its first failed write and nothing drains the
// link afterwards. Here each link writes through a sink that, after a
// failed write, closes its connection and discards the rest, so every link
// drains until its source ends.
//
// # Logging and globals
//
// Each Proxy has its own toxiproxy ApiServer, with a no-op zerolog logger
// and a metrics container on a private Prometheus registry with metrics
// off; its HTTP API is never started. toxiproxy's bandwidth toxic alone logs
// through zerolog's global logger: at trace level, below zerolog's default
// global level and so silent, and at warn level only if it cannot hand data
// on within 5 s while being removed. The package's init adds its two toxic
// types to toxiproxy's toxic registry; it has no other global state.
//
// # Goroutines
//
// A proxy runs one accept loop and, per connection and direction,
// toxiproxy's reader, writer and one goroutine per toxic. Close (which
// Start registers with tb.Cleanup) closes the listener and every
// connection and waits for the accept loop and every link writer; a
// link's writer ends last but for two map deletions, once its reader and
// toxics have ended, and the reader of the opposite link ends as soon as
// its closed source fails. Tests in this package run goleak.VerifyTestMain
// with no ignore list.
package faultproxy
