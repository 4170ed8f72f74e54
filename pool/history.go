package pool

import "sync"

// history is a bounded ring of past snapshots.
type history struct {
	// mu guards ring, next and full. Lock order: pool.mu before history.mu;
	// history.mu is never held while taking another lock.
	mu   sync.Mutex
	ring []Snapshot
	next int
	full bool
}

func newHistory(size int) *history { return &history{ring: make([]Snapshot, size)} }

// add stores s, overwriting the oldest snapshot when full.
func (h *history) add(s Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
}

// list returns the stored snapshots, oldest first.
func (h *history) list() []Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listLocked()
}

// listLocked is list with h.mu held.
func (h *history) listLocked() []Snapshot {
	if !h.full {
		return append([]Snapshot(nil), h.ring[:h.next]...)
	}
	out := make([]Snapshot, 0, len(h.ring))
	out = append(out, h.ring[h.next:]...)
	return append(out, h.ring[:h.next]...)
}

// resize keeps the newest min(size, stored) snapshots in a ring of size.
func (h *history) resize(size int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if size == len(h.ring) {
		return
	}
	old := h.listLocked()
	if len(old) > size {
		old = old[len(old)-size:]
	}
	h.ring = make([]Snapshot, size)
	h.next = copy(h.ring, old) % size
	h.full = len(old) == size
}
