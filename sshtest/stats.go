package sshtest

import "sync/atomic"

// Stats is a snapshot of a server's counters. Totals are cumulative since
// Start and survive Restart; the *Open fields are gauges.
type Stats struct {
	// ConnsAccepted is the number of TCP connections accepted.
	ConnsAccepted int64
	// ConnsOpen is the number of accepted connections not yet closed
	// (including ones still in the handshake or stalled).
	ConnsOpen int64
	// ChannelsOpened is the number of channels accepted (session and
	// direct-tcpip); rejected channel opens are not counted.
	ChannelsOpened int64
	// ChannelsOpen is the number of accepted channels not yet closed.
	ChannelsOpen int64
	// ChannelsRejected is the number of channel opens refused, for example
	// by the session limit or a non-loopback direct-tcpip destination.
	ChannelsRejected int64
	// AuthFailures is the number of failed authentication attempts, not
	// counting the "none" method that clients try first.
	AuthFailures int64
	// Execs is the number of exec and shell requests that ran the handler.
	Execs int64
	// Keepalives is the number of keepalive@openssh.com global requests.
	Keepalives int64
}

// counters are the live, lock-free counterparts of Stats.
type counters struct {
	connsAccepted    atomic.Int64
	connsOpen        atomic.Int64
	channelsOpened   atomic.Int64
	channelsOpen     atomic.Int64
	channelsRejected atomic.Int64
	authFailures     atomic.Int64
	execs            atomic.Int64
	keepalives       atomic.Int64
}

// Stats returns a snapshot of the server's counters. Each field is read
// atomically; the snapshot as a whole is not.
func (s *Server) Stats() Stats {
	c := &s.counters
	return Stats{
		ConnsAccepted:    c.connsAccepted.Load(),
		ConnsOpen:        c.connsOpen.Load(),
		ChannelsOpened:   c.channelsOpened.Load(),
		ChannelsOpen:     c.channelsOpen.Load(),
		ChannelsRejected: c.channelsRejected.Load(),
		AuthFailures:     c.authFailures.Load(),
		Execs:            c.execs.Load(),
		Keepalives:       c.keepalives.Load(),
	}
}
