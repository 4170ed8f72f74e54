package sshtest

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/crypto/ssh"
)

// prohibitedMessage is sshd's message when MaxSessions is reached.
const prohibitedMessage = "administratively prohibited: open failed"

var errChannelClosed = errors.New("sshtest: channel closed")

// Payloads of channel requests (RFC 4254 section 6).
type (
	execMsg       struct{ Command string }
	envMsg        struct{ Name, Value string }
	signalMsg     struct{ Signal string }
	exitStatusMsg struct{ Status uint32 }
	exitSignalMsg struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}
)

// sessionChannel serves one session channel. Its fields other than sess.state
// are used only by the request loop until the handler starts, and only by the
// handler goroutine afterwards.
type sessionChannel struct {
	conn    *serverConn
	ch      ssh.Channel
	sess    *Session
	ctx     context.Context
	cancel  context.CancelCauseFunc
	started bool
}

// reserveSession takes a session slot, honouring the session limit.
func (c *serverConn) reserveSession() bool {
	n := c.sessions.Add(1)
	if limit := c.srv.maxSessions.Load(); limit > 0 && n > limit {
		c.sessions.Add(-1)
		return false
	}
	return true
}

// serveSession serves a session channel until it has closed and its handler
// and helpers have returned.
func (c *serverConn) serveSession(ctx context.Context, conn *ssh.ServerConn, nc ssh.NewChannel) {
	if !c.reserveSession() {
		c.reject(nc, ssh.Prohibited, prohibitedMessage)
		return
	}
	defer c.sessions.Add(-1)
	ch, reqs, closed, err := c.accept(nc)
	if err != nil {
		return
	}
	defer closed()
	sc := newSessionChannel(ctx, c, conn, ch)
	for req := range reqs {
		sc.handleRequest(req)
	}
	sc.cancel(errChannelClosed)
	sc.sess.state.helpers.Wait()
}

func newSessionChannel(ctx context.Context, c *serverConn, conn *ssh.ServerConn, ch ssh.Channel) *sessionChannel {
	ctx, cancel := context.WithCancelCause(ctx)
	sess := &Session{
		User:       conn.User(),
		Env:        map[string]string{},
		Hostname:   c.srv.cfg.hostname,
		RemoteAddr: conn.RemoteAddr(),
		Stdin:      ch,
		Stdout:     ch,
		Stderr:     ch.Stderr(),
		state:      &sessionState{},
	}
	return &sessionChannel{conn: c, ch: ch, sess: sess, ctx: ctx, cancel: cancel}
}

// handleRequest answers one channel request and starts the handler for exec
// and shell, after replying so that the reply precedes any output.
func (sc *sessionChannel) handleRequest(req *ssh.Request) {
	ok, start := sc.apply(req)
	if req.WantReply {
		req.Reply(ok, nil)
	}
	if start {
		sc.start()
	}
}

// apply interprets req; it reports the reply and whether to start the
// handler.
func (sc *sessionChannel) apply(req *ssh.Request) (ok, start bool) {
	switch req.Type {
	case "exec":
		var m execMsg
		if sc.started || ssh.Unmarshal(req.Payload, &m) != nil {
			return false, false
		}
		sc.sess.Command, sc.sess.Args = m.Command, strings.Fields(m.Command)
		return true, true
	case "shell":
		return !sc.started, !sc.started
	case "env":
		var m envMsg
		if sc.started || ssh.Unmarshal(req.Payload, &m) != nil {
			return false, false
		}
		sc.sess.Env[m.Name] = m.Value
		return true, false
	case "pty-req":
		if sc.started {
			return false, false
		}
		sc.sess.PTY = true
		return true, false
	case "window-change":
		return true, false
	case "signal":
		return sc.signal(req.Payload), false
	}
	return false, false
}

// signal records the first signal and cancels the handler's context.
func (sc *sessionChannel) signal(payload []byte) bool {
	var m signalMsg
	if ssh.Unmarshal(payload, &m) != nil || m.Signal == "" {
		return false
	}
	sig := ssh.Signal(m.Signal)
	if sc.sess.state.signal.CompareAndSwap(nil, &sig) {
		sc.cancel(errors.New("sshtest: signal " + m.Signal))
	}
	return true
}

// start runs the handler on a helper goroutine, then reports the exit and
// closes the channel.
func (sc *sessionChannel) start() {
	sc.started = true
	sc.conn.srv.counters.execs.Add(1)
	sc.sess.state.helpers.Go(func() {
		defer sc.ch.Close()
		status := sc.conn.srv.cfg.handler(sc.ctx, sc.sess)
		sc.ch.CloseWrite()
		sc.sendExit(status)
	})
}

func (sc *sessionChannel) sendExit(status int) {
	if status >= 0 {
		sc.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{Status: uint32(status)}))
		return
	}
	sig := sc.sess.Signal()
	if sig == "" {
		sig = ssh.SIGKILL
	}
	sc.ch.SendRequest("exit-signal", false, ssh.Marshal(exitSignalMsg{Signal: string(sig)}))
}
