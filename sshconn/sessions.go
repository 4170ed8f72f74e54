package sshconn

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

// DefaultServerMaxSessions is OpenSSH's default MaxSessions: the sessions
// it lets one connection have open at once. Exec keeps within it on
// connections to OpenSSH servers unless WithServerMaxSessions says
// otherwise.
const DefaultServerMaxSessions = 10

// sessionGate keeps the sessions a server may still count on one
// connection within the server's session limit, so that Exec waits for a
// free slot instead of being refused.
//
// OpenSSH's sshd frees a session's slot only after it has processed the
// client's channel close and then collected the channel, which it does
// between reading batches of input. The client sends its close when it
// sees the server's (x/crypto does so before Session.Wait returns), and a
// session opened right after can reach sshd in the same batch as that
// close: sshd, still counting the closed session, refuses it ("no more
// sessions"). With MaxSessions 10 and the pool's 8 sessions per
// connection, about 12 % of commands at 16 or more goroutines were refused
// and retried after a backoff (TestSSHDNoSessionLimitRefusals).
//
// So the gate counts a closed session against the limit until the server
// has certainly collected it. sshd answers a request while dispatching the
// batch that holds it, so a reply to any request sent after a close proves
// the close was read; a session opened after that reply reaches sshd in a
// later batch, after the collection. The replies Exec gets anyway confirm
// earlier closes (the open confirmation and the exec request's reply);
// when nothing else is in flight and a session would pass the limit, a
// keepalive@openssh.com request is sent as the fence.
//
// The limit is DefaultServerMaxSessions for OpenSSH servers, which say so
// in their version string, unless WithServerMaxSessions sets it; for other
// servers none is assumed until one refuses a session at its limit, and
// the gate then keeps to the most sessions the server has granted at once
// (see refused). Raw sessions (NewSession) are not counted: their close is
// not seen.
type sessionGate struct {
	open      atomic.Int64  // sessions admitted by enter and not yet closed
	granted   atomic.Int64  // sessions whose open the server confirmed, not yet closed
	peak      atomic.Int64  // the most sessions granted at once
	closed    atomic.Uint64 // sessions Exec has closed
	confirmed atomic.Uint64 // closes the server has certainly collected (closes are confirmed in order)
	limit     atomic.Int64  // the server's session limit as assumed or set; 0 = none known, -1 = gate off
	capped    atomic.Bool   // the server refused a session at its limit: the limit is at most peak
	waiting   atomic.Int32  // goroutines in await
	send      func() error  // the fence request (see init)

	// mu guards wake, fencing and shut, and orders fence goroutines with
	// Close's wait for them.
	mu      sync.Mutex
	wake    chan struct{} // closed when confirmed or the limit changes; nil when nobody waits
	fencing bool          // a fence request is in flight
	shut    bool          // the client is closing: start no fence
	fences  sync.WaitGroup
}

// init sets the starting limit and the fence request, send, which must
// return once the server has answered (nil) or the connection has ended.
// n > 0 is the server's limit, n < 0 turns the gate off, and 0 means
// DefaultServerMaxSessions when the server's version string names OpenSSH,
// else no known limit.
func (g *sessionGate) init(n int, serverVersion []byte, send func() error) {
	g.send = send
	switch {
	case n > 0:
		g.limit.Store(int64(n))
	case n == 0 && bytes.Contains(serverVersion, []byte("OpenSSH")):
		g.limit.Store(DefaultServerMaxSessions)
	case n < 0:
		g.limit.Store(-1)
	}
}

// keepaliveFence is the fence request on an SSH connection: a global
// request that OpenSSH answers (with a failure, as for any keepalive).
func keepaliveFence(c *ssh.Client) func() error {
	return func() error {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		return err
	}
}

// enter admits one session, waiting while the server may count the limit
// of sessions already; ctx or the end of the connection ends the wait. It
// returns the ticket of the channel open (see ticket).
func (g *sessionGate) enter(ctx context.Context, c *Client) (ticket uint64, err error) {
	for {
		// Read open before closed: exit counts a close before it lowers
		// open, so a session closing meanwhile is counted at least once.
		n := g.open.Add(1)
		ticket = g.closed.Load()
		lim := g.effectiveLimit()
		if lim <= 0 {
			return 0, nil // no limit: nothing to confirm
		}
		if n+unconfirmed(ticket, g.confirmed.Load()) <= lim {
			return ticket, nil
		}
		g.open.Add(-1)
		if err := g.await(ctx, c); err != nil {
			return 0, err
		}
	}
}

// unconfirmed returns how many of closed closes are not confirmed. It is
// 0 when confirmed, read later, has passed closed.
func unconfirmed(closed, confirmed uint64) int64 {
	if confirmed >= closed {
		return 0
	}
	return int64(closed - confirmed)
}

// effectiveLimit returns the limit to keep to: the assumed or set limit,
// lowered to the most sessions granted at once (at least 1) once the
// server has refused one at its limit; 0 when none is known, negative
// when the gate is off.
func (g *sessionGate) effectiveLimit() int64 {
	lim := g.limit.Load()
	if lim < 0 || !g.capped.Load() {
		return lim
	}
	peak := max(g.peak.Load(), 1)
	if lim == 0 {
		return peak
	}
	return min(lim, peak)
}

// full reports whether one more session would pass the limit.
func (g *sessionGate) full() bool {
	lim := g.effectiveLimit()
	if lim <= 0 {
		return false
	}
	n := g.open.Load()
	return n+1+unconfirmed(g.closed.Load(), g.confirmed.Load()) > lim
}

// await waits until a close is confirmed or the limit changes, making sure
// a fence is in flight.
func (g *sessionGate) await(ctx context.Context, c *Client) error {
	g.mu.Lock()
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	// Pairs with signal: a confirmation before the Add above is seen by
	// full; one after it sees waiting and closes wake.
	if !g.full() {
		g.mu.Unlock()
		return nil
	}
	if g.wake == nil {
		g.wake = make(chan struct{})
	}
	wake := g.wake
	if !g.fencing && !g.shut {
		g.fencing = true
		g.fences.Add(1)
		go g.fence()
	}
	g.mu.Unlock()
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.Done():
		return c.usable()
	}
}

// fence sends a keepalive request and, once it is answered, confirms every
// close made before it was sent. It wakes the waiters either way: those
// still over the limit start another fence.
func (g *sessionGate) fence() {
	defer g.fences.Done()
	ticket := g.closed.Load()
	if g.send != nil && g.send() == nil {
		g.confirm(ticket)
	}
	g.mu.Lock()
	g.fencing = false
	g.wakeLocked()
	g.mu.Unlock()
}

// ticket returns the ticket of a request about to be sent: the closes
// its reply will confirm.
func (g *sessionGate) ticket() uint64 {
	if g.effectiveLimit() <= 0 {
		return 0
	}
	return g.closed.Load()
}

// confirm records the reply to a request sent with ticket: the server has
// collected every session closed before it.
func (g *sessionGate) confirm(ticket uint64) {
	for {
		c := g.confirmed.Load()
		if ticket <= c {
			return
		}
		if g.confirmed.CompareAndSwap(c, ticket) {
			break
		}
	}
	g.signal()
}

// signal wakes the waiters, if any.
func (g *sessionGate) signal() {
	if g.waiting.Load() == 0 {
		return
	}
	g.mu.Lock()
	g.wakeLocked()
	g.mu.Unlock()
}

func (g *sessionGate) wakeLocked() {
	if g.wake != nil {
		close(g.wake)
		g.wake = nil
	}
}

// opened records that the server confirmed the open of a session
// admitted by enter, sent with ticket.
func (g *sessionGate) opened(ticket uint64) {
	n := g.granted.Add(1)
	for p := g.peak.Load(); n > p; p = g.peak.Load() {
		if g.peak.CompareAndSwap(p, n) {
			if g.capped.Load() {
				g.signal() // a higher peak raises the learnt limit
			}
			break
		}
	}
	g.confirm(ticket)
}

// exit counts the close of a session the server had opened. Its channel
// close must have been sent.
func (g *sessionGate) exit() {
	g.closed.Add(1) // before open drops, so the count never understates
	g.granted.Add(-1)
	g.open.Add(-1)
}

// refused undoes enter for a session whose channel did not open. When the
// server refused it at its limit (atLimit), the gate keeps from then on to
// the most sessions the server has granted at once on this connection (at
// least 1): those were all counted by the server together, so its limit is
// at least that. (The refused session's own count is no bound: sessions
// admitted after it may have reached the server first. And the peak is
// read at every admission, not now, because the goroutines whose opens
// were granted in the same burst may record them after this refusal.)
func (g *sessionGate) refused(atLimit bool) {
	g.open.Add(-1)
	if atLimit && g.limit.Load() >= 0 && !g.capped.Swap(true) {
		g.signal()
	}
}

// close stops new fences and waits for those in flight; the client's
// connection must be closed, which ends them.
func (g *sessionGate) close() {
	g.mu.Lock()
	g.shut = true
	g.wakeLocked()
	g.mu.Unlock()
	g.fences.Wait()
}

// SessionLimit returns the session limit Exec keeps to on this connection
// (see WithServerMaxSessions): the server's MaxSessions as set or assumed,
// or as learnt from a refusal; 0 when none is known or the accounting is
// off.
func (c *Client) SessionLimit() int {
	return int(max(c.gate.effectiveLimit(), 0))
}
