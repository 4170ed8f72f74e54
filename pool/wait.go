package pool

import (
	"context"
)

// waiter is one Get waiting for a slot.
type waiter struct {
	ready chan struct{}   // buffered (1): signalled once lease or err is set
	hint  string          // affinity hint
	vctx  context.Context // the caller's context: its values reach a dial
	lease *lease          // set with err under pool.mu before ready
	err   error
	done  bool // guarded by pool.mu: served or abandoned
}

// waitQueue is a FIFO of waiters. Guarded by pool.mu.
type waitQueue struct {
	q    []*waiter
	head int
}

func (w *waitQueue) len() int { return len(w.q) - w.head }

func (w *waitQueue) push(x *waiter) {
	if w.head > 32 && w.head*2 > len(w.q) {
		n := copy(w.q, w.q[w.head:])
		clear(w.q[n:])
		w.q, w.head = w.q[:n], 0
	}
	w.q = append(w.q, x)
}

func (w *waitQueue) peek() *waiter { return w.q[w.head] }

func (w *waitQueue) pop() *waiter {
	x := w.q[w.head]
	w.q[w.head] = nil
	w.head++
	if w.head == len(w.q) {
		w.q, w.head = w.q[:0], 0
	}
	return x
}

// remove takes x out of the queue wherever it is.
func (w *waitQueue) remove(x *waiter) {
	for i := w.head; i < len(w.q); i++ {
		if w.q[i] == x {
			copy(w.q[i:], w.q[i+1:])
			w.q[len(w.q)-1] = nil
			w.q = w.q[:len(w.q)-1]
			if w.head == len(w.q) {
				w.q, w.head = w.q[:0], 0
			}
			return
		}
	}
}
