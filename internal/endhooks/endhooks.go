// Package endhooks runs callbacks once when a connection ends: what
// sshconn's client (and the pool's test clients) use to implement
// pool.EndNotifier.
package endhooks

import "sync"

// Hooks is what an SSHClient needs to implement pool.EndNotifier: keep
// one in the client (the zero value is ready), forward NotifyEnd to it, and
// call End once the connection has ended, just before closing Done.
type Hooks struct {
	mu    sync.Mutex
	ended bool
	fns   []func()
}

// NotifyEnd registers f to run at End, or runs it at once after End.
func (h *Hooks) NotifyEnd(f func()) {
	h.mu.Lock()
	if !h.ended {
		h.fns = append(h.fns, f)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	f()
}

// End runs the registered callbacks, each once, on the caller's
// goroutine. Later calls do nothing.
func (h *Hooks) End() {
	h.mu.Lock()
	h.ended = true
	fns := h.fns
	h.fns = nil
	h.mu.Unlock()
	for _, f := range fns {
		f()
	}
}
