package pool

import "reflect"

// watchShardSize is how many connections one watcher goroutine watches.
const watchShardSize = 64

// watchShard is one death-watcher goroutine, owned by the pool (p.wg),
// parked in a select over the Done channels of up to watchShardSize
// connections, the pool's context and its own wake channel. A connection
// whose Done closes is retired at once (EventLost), without waiting for a
// probe or a Get to trip over it.
//
// Why shards: a goroutine per connection costs about 2.7 KB (its stack,
// g, closure: measured with BenchmarkIdleMemory), over the pool's budget
// of 1 KB per idle connection, and SSHClient offers no callback to hang
// the wake-up on. A shard costs one select case and one parked sudog per
// connection (≈200 B) plus 1/64 of a goroutine. A wake-up (a new
// connection, or one ending, including the pool's own closes) re-arms a
// select over at most 66 channels: microseconds, at dial or close rate.
type watchShard struct {
	wake chan struct{} // size 1: pending has connections

	// Guarded by pool.mu.
	pending []*poolEntry // handed to the goroutine on the next wake
	n       int          // connections assigned and not yet seen done
}

// watchLocked hands e to a watcher with room, starting one if needed. The
// caller holds pool.mu and the pool is not closed (so Close waits for the
// watcher).
func (p *pool) watchLocked(e *poolEntry) {
	var w *watchShard
	for _, s := range p.watchers {
		if s.n < watchShardSize {
			w = s
			break
		}
	}
	if w == nil {
		w = &watchShard{wake: make(chan struct{}, 1)}
		p.watchers = append(p.watchers, w)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runWatch(w)
		}()
	}
	w.n++
	w.pending = append(w.pending, e)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// runWatch is a watcher's loop: cases[0] is the pool's context, cases[1]
// the wake channel, cases[i+2] the Done channel of entries[i].
func (p *pool) runWatch(w *watchShard) {
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(p.ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.wake)},
	}
	var entries []*poolEntry
	for {
		i, _, _ := reflect.Select(cases)
		switch i {
		case 0:
			return
		case 1:
			p.mu.Lock()
			add := w.pending
			w.pending = nil
			p.mu.Unlock()
			for _, e := range add {
				entries = append(entries, e)
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(e.client.Done())})
			}
		default:
			e := entries[i-2]
			last := len(entries) - 1
			entries[i-2], cases[i] = entries[last], cases[last+2]
			entries[last], cases[last+2] = nil, reflect.SelectCase{}
			entries, cases = entries[:last], cases[:last+2]
			p.connDone(w, e)
		}
	}
}

// connDone retires e, whose client's Done closed, unless the pool retired
// it first (its own closes end here too).
func (p *pool) connDone(w *watchShard, e *poolEntry) {
	p.mu.Lock()
	w.n--
	p.mu.Unlock()
	if e.usable() {
		p.retireUnhealthy(e, EventLost, e.client.Err())
	}
}
