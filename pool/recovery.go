package pool

import (
	"time"

	"github.com/sshpool/sshpool/failure"
)

// ChangeDetector is an optional interface of a ConnectionFactory whose
// dials read local inputs that an operator may fix: known_hosts, identity
// and certificate files (sshconn.Factory implements it). While some key's
// circuit is open after a permanent failure (authentication, host key,
// configuration), the pool asks it every changePollInterval (100ms) which
// of those keys had an input change since their last failed dial, and
// calls RetryNow for them: a rewritten known_hosts or a replaced key is
// tried at once, not at the circuit's next trial.
type ChangeDetector interface {
	// ChangedKeys returns the keys whose last dial failed permanently and
	// whose inputs changed since, each reported once. It runs on a pool
	// goroutine, outside pool locks; it must be quick (a few stat calls),
	// must not block and must not call back into the pool.
	ChangedKeys() []string
}

// changePollInterval is how often the pool polls a ChangeDetector while a
// circuit is open for a permanent failure.
const changePollInterval = 100 * time.Millisecond

// RetryNow implements Pool.
func (p *pool) RetryNow(keys ...string) int {
	var fx effects
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0
	}
	n := 0
	rearm := func(ks *keyState) {
		if c, ok := ks.guard.(*circuit); ok && c.rearm() {
			n++
		}
		if p.warmKeyLocked(ks.name) {
			p.replaceConnLocked(ks.name, nil, &fx)
		}
	}
	if len(keys) == 0 {
		for _, ks := range p.byKey {
			rearm(ks)
		}
	}
	for _, k := range keys {
		if ks := p.byKey[k]; ks != nil {
			rearm(ks)
		}
	}
	p.mu.Unlock()
	p.apply(&fx)
	return n
}

// watchChangesLocked adds the key of a circuit that just opened (or stayed
// open) for err to the keys the change poller watches, and starts the
// poller, when err is permanent and the factory is a ChangeDetector.
// Caller holds pool.mu.
func (p *pool) watchChangesLocked(ks *keyState, err error) {
	if p.detector == nil || p.closed || !failure.Classify(err).Permanent() {
		return
	}
	p.watched[ks] = struct{}{}
	if p.polling {
		return
	}
	p.polling = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.pollChanges()
	}()
}

// pollChanges asks the detector for changed inputs every
// changePollInterval and rearms their circuits, until no watched circuit
// is open for a permanent failure or the pool closes.
func (p *pool) pollChanges() {
	t := time.NewTicker(changePollInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if keys := p.detector.ChangedKeys(); len(keys) > 0 {
			p.RetryNow(keys...)
		}
		if !p.keepPolling() {
			return
		}
	}
}

// keepPolling drops the watched keys whose circuit closed or whose last
// failure is no longer permanent, and reports whether any is left; when
// none is, the poller ends (under the same lock, so that the next
// permanent failure starts a new one).
func (p *pool) keepPolling() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ks := range p.watched {
		c, ok := ks.guard.(*circuit)
		if !ok || c.state == phaseClosed || !failure.Classify(c.lastErr).Permanent() || p.byKey[ks.name] != ks {
			delete(p.watched, ks)
		}
	}
	p.polling = len(p.watched) > 0 && !p.closed
	return p.polling
}
