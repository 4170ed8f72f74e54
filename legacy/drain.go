package legacy

import (
	"context"
	"sync/atomic"
)

// drainer counts the commands a pool (or adapter) is running, so that Stop
// can refuse new ones and let the running ones finish. It is lock-free:
// begin increments then checks the stopping flag, stop sets the flag then
// reads the count, and Go's atomics are sequentially consistent, so either
// begin sees the flag or stop sees the command.
type drainer struct {
	inflight atomic.Int64
	stopping atomic.Bool
	idle     chan struct{} // size 1: signalled when inflight drops to 0 while stopping
}

func newDrainer() drainer { return drainer{idle: make(chan struct{}, 1)} }

// begin registers a command; it returns false (and registers nothing) once
// stop was called.
func (d *drainer) begin() bool {
	d.inflight.Add(1)
	if d.stopping.Load() {
		d.end()
		return false
	}
	return true
}

// end registers the end of a command that begin let start.
func (d *drainer) end() {
	if d.inflight.Add(-1) == 0 && d.stopping.Load() {
		select {
		case d.idle <- struct{}{}:
		default:
		}
	}
}

// stop makes begin refuse from now on; it reports whether it was the first
// call.
func (d *drainer) stop() bool { return d.stopping.CompareAndSwap(false, true) }

// stopped reports whether stop was called.
func (d *drainer) stopped() bool { return d.stopping.Load() }

// wait returns once no command is running, or ctx's error when ctx ends
// first. Call it after stop.
func (d *drainer) wait(ctx context.Context) error {
	for d.inflight.Load() != 0 {
		select {
		case <-d.idle:
		case <-ctx.Done():
			if d.inflight.Load() == 0 {
				return nil
			}
			return ctx.Err()
		}
	}
	return nil
}
