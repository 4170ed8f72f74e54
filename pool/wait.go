package pool

import (
	"context"
	"time"
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

// deliverLocked completes a waiter already popped from ks's queue.
func (p *pool) deliverLocked(ks *keyState, w *waiter, l *lease, err error) {
	w.lease, w.err, w.done = l, err, true
	ks.addWaitingLocked(-1)
	w.ready <- struct{}{}
}

// failWaitersLocked completes every waiter of ks with err.
func (p *pool) failWaitersLocked(ks *keyState, err error) {
	for ks.waiters.len() > 0 {
		p.deliverLocked(ks, ks.waiters.pop(), nil, err)
	}
}

// getSlow is Get under the lock: it leases at once if it can, else queues
// the caller (starting a dial if the limits allow) and waits.
func (p *pool) getSlow(ctx context.Context, key string) (*lease, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		p.stats.countGetAbort(err)
		return nil, 0, &WaitError{Key: key, Err: err}
	}
	hint := affinity(ctx)
	var fx effects
	p.mu.Lock()
	if err := p.getErrLocked(); err != nil {
		p.mu.Unlock()
		return nil, 0, err
	}
	ks := p.keyLocked(key)
	ks.addWaitingLocked(1)
	if ks.waiters.len() == 0 {
		if e := p.pick(ks, hint, &fx); e != nil {
			ks.addWaitingLocked(-1)
			p.mu.Unlock()
			p.apply(&fx)
			return p.newLease(e), 0, nil
		}
	}
	w := &waiter{ready: make(chan struct{}, 1), hint: hint, vctx: ctx}
	ks.waiters.push(w)
	p.serveKeyLocked(ks, &fx)
	timeout := p.cfg.WaitTimeout
	p.mu.Unlock()
	p.apply(&fx)
	return p.wait(ctx, ks, w, timeout)
}

// getErrLocked returns why Get cannot proceed: closed or invalid config.
func (p *pool) getErrLocked() error {
	if p.closed {
		return ErrPoolClosed
	}
	return p.cfgErr
}

// wait blocks until w is served, ctx ends or timeout (if > 0) passes.
func (p *pool) wait(ctx context.Context, ks *keyState, w *waiter, timeout time.Duration) (*lease, time.Duration, error) {
	start := p.clock()
	p.stats.waitCount.Add(1)
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var cause error
	select {
	case <-w.ready:
		return p.waited(start, w)
	case <-ctx.Done():
		cause = ctx.Err()
	case <-expired:
		cause = context.DeadlineExceeded
	}
	return p.abandon(ks, w, start, cause)
}

// waited records a finished wait and returns its outcome.
func (p *pool) waited(start time.Time, w *waiter) (*lease, time.Duration, error) {
	d := max(p.clock().Sub(start), 1) // a served wait is never reported as a hit
	p.stats.waitNanos.Add(int64(d))
	p.stats.waitLatency.Observe(d)
	if w.lease != nil {
		p.stats.waitedGranted.Add(1)
	}
	return w.lease, d, w.err
}

// abandon takes w out of the queue after its caller gave up. If w was
// served in the meantime, the caller gets what it was served.
func (p *pool) abandon(ks *keyState, w *waiter, start time.Time, cause error) (*lease, time.Duration, error) {
	p.mu.Lock()
	if w.done {
		p.mu.Unlock()
		<-w.ready
		return p.waited(start, w)
	}
	ks.waiters.remove(w)
	ks.addWaitingLocked(-1)
	w.done = true
	exhausted := ks.dialing == 0
	p.dropKeyIfIdleLocked(ks)
	p.mu.Unlock()
	d := p.clock().Sub(start)
	p.stats.waitNanos.Add(int64(d))
	p.stats.waitLatency.Observe(d)
	p.stats.countGetAbort(cause)
	return nil, d, &WaitError{Key: ks.name, Waited: d, Exhausted: exhausted, Err: cause}
}
