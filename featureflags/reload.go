package featureflags

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"sync/atomic"

	"github.com/open-feature/go-sdk/openfeature"
)

// Init starts following the source; see InitWithContext.
func (p *Provider) Init(ec openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), ec)
}

// InitWithContext starts the source (for a [FileSource], watching the file),
// then reads the document once more to pick up a change made since
// construction. The OpenFeature API calls it when the provider is set. ctx
// bounds the source's setup. Calling it again while started does nothing.
// The evaluation context is not used.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.started {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.src.Start(ctx, sink{p}); err != nil {
		return err
	}
	p.started = true
	_ = p.ReloadContext(ctx) // a failure is reported by Reload and the constructed flags stay
	return nil
}

// Shutdown stops the source and waits for its goroutines.
func (p *Provider) Shutdown() {
	_ = p.ShutdownWithContext(context.Background())
}

// ShutdownWithContext stops the source and waits for its goroutines, or for
// ctx to be done (they then still end promptly on their own). The flags in
// force keep being served; Init may start the source again.
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if !p.started {
		return nil
	}
	p.started = false
	return p.src.Stop(ctx)
}

// Reload reads the source's document now and, if it changed and is valid,
// replaces the flags in force. It returns the error that keeps the previous
// flags in force (unreadable or invalid document), else nil. The source
// calls it (through its [Sink]) after a change; it is also what an admin
// command or SIGHUP calls.
//
// A failure is logged, counted and sent as PROVIDER_ERROR once per distinct
// failure; a success that changed flags sends PROVIDER_CONFIGURATION_CHANGED
// with the changed keys, preceded by PROVIDER_READY if the previous attempt
// had failed.
func (p *Provider) Reload() error { return p.ReloadContext(context.Background()) }

// ReloadContext is Reload with the read bounded by ctx as well as by the
// source's own limits.
func (p *Provider) ReloadContext(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	doc, err := p.src.Read(ctx)
	if err != nil {
		return p.failLocked(err, openfeature.GeneralCode)
	}
	return p.updateLocked(doc)
}

// sink is the Sink a provider hands its source.
type sink struct{ p *Provider }

func (s sink) Update(doc Document) error {
	s.p.reloadMu.Lock()
	defer s.p.reloadMu.Unlock()
	return s.p.updateLocked(doc)
}

func (s sink) Refresh() { _ = s.p.Reload() }

func (s sink) ReadFailed(err error) {
	s.p.reloadMu.Lock()
	defer s.p.reloadMu.Unlock()
	_ = s.p.failLocked(err, openfeature.GeneralCode)
}

func (s sink) SetHealth(h SourceHealth) {
	s.p.reloadMu.Lock()
	defer s.p.reloadMu.Unlock()
	s.p.setHealthLocked(h)
}

// updateLocked is the shared path of every document: an identical document
// is a no-op, one refused before is refused again without a new report, any
// other is decoded and validated and, when valid, swapped in.
// Caller holds p.reloadMu.
func (p *Provider) updateLocked(doc Document) error {
	sum := sha256.Sum256(doc.Data)
	old := p.flags.Load()
	if sum == p.goodSum {
		p.recoverLocked(old, old)
		return nil
	}
	if p.lastErr != nil && p.badSum != nil && *p.badSum == sum {
		return p.lastErr // the same refused contents, already reported
	}
	set, err := parseDocument(doc, p.cfg.maxBytes)
	if err != nil {
		p.badSum = &sum
		return p.failLocked(err, openfeature.ParseErrorCode)
	}
	p.flags.Store(set)
	p.goodSum = p.store(doc)
	p.reloads.Add(1)
	p.noteRuleErrorsLocked(old, set)
	p.recoverLocked(old, set)
	return nil
}

// noteRuleErrorsLocked logs and counts every flag of cur whose rule has
// errors and which is new or changed since old: the document loaded (flagd
// would load it too), but that flag now evaluates to its default or an
// error. Caller holds p.reloadMu (or owns p during construction).
func (p *Provider) noteRuleErrorsLocked(old, cur *flagSet) {
	for _, key := range cur.keys() {
		f := cur.flags[key]
		if f.ruleErrors == 0 || f.disabled {
			continue
		}
		if prev := old.flags[key]; prev != nil && prev.digest == f.digest {
			continue
		}
		p.ruleErrorCounter(key).Add(1)
		p.cfg.logger.Warn("featureflags: a flag's rule has errors; it evaluates to its default or an error until fixed",
			"source", p.src.Name(), "flag", key, "errors", f.ruleErrors, "first", f.ruleIssue)
	}
}

// ruleErrorCounter returns key's counter, creating it (copy-on-write) if
// there is room, else the overflow counter "". Caller holds p.reloadMu.
func (p *Provider) ruleErrorCounter(key string) *atomic.Int64 {
	var cur map[string]*atomic.Int64
	if m := p.ruleErrors.Load(); m != nil {
		cur = *m
	}
	if c, ok := cur[key]; ok {
		return c
	}
	if len(cur) >= MaxRuleErrorSeries {
		key = ""
		if c, ok := cur[key]; ok {
			return c
		}
	}
	next := make(map[string]*atomic.Int64, len(cur)+1)
	maps.Copy(next, cur)
	c := new(atomic.Int64)
	next[key] = c
	p.ruleErrors.Store(&next)
	return c
}

// store records doc as the document in force and returns its hash.
func (p *Provider) store(doc Document) [32]byte {
	sum := sha256.Sum256(doc.Data)
	p.doc.Store(&DocumentInfo{
		Origin:   doc.Origin,
		Version:  doc.Version,
		SHA256:   hex.EncodeToString(sum[:]),
		Size:     len(doc.Data),
		LoadedAt: p.cfg.now(),
	})
	return sum
}

// failLocked records and reports a failed attempt, once per distinct error.
// Caller holds p.reloadMu.
func (p *Provider) failLocked(err error, code openfeature.ErrorCode) error {
	if p.lastErr != nil && p.lastErr.Error() == err.Error() {
		return p.lastErr
	}
	if code == openfeature.GeneralCode {
		p.badSum = nil // contents read next are checked afresh
	}
	p.lastErr = err
	msg := err.Error()
	p.lastErrMsg.Store(&msg)
	p.reloadErrors.Add(1)
	p.failing = true
	p.cfg.logger.Warn("featureflags: flag document rejected, keeping the previous flags",
		"source", p.src.Name(), "error", err)
	p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{Message: msg, ErrorCode: code})
	return err
}

// recoverLocked records a successful attempt from old to cur and reports it.
// Caller holds p.reloadMu.
func (p *Provider) recoverLocked(old, cur *flagSet) {
	p.lastErr, p.badSum = nil, nil
	p.lastErrMsg.Store(nil)
	if p.failing {
		p.failing = false
		p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flag document valid again"})
	}
	changed := changedKeys(old, cur)
	if len(changed) == 0 {
		return
	}
	p.cfg.logger.Info("featureflags: flags reloaded", "source", p.src.Name(),
		"version", p.doc.Load().Version, "changed", changed)
	p.emit(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{
		Message:     "flags reloaded",
		FlagChanges: changed,
	})
}

// setHealthLocked records the source's health and reports a change.
// Caller holds p.reloadMu.
func (p *Provider) setHealthLocked(h SourceHealth) {
	if h == p.health {
		return
	}
	was := p.health.Connected
	p.health = h
	p.healthNow.Store(&h)
	switch {
	case was && !h.Connected:
		p.cfg.logger.Warn("featureflags: flag source disconnected, serving the last good flags",
			"source", p.src.Name(), "detail", h.Detail)
		p.emit(openfeature.ProviderStale, openfeature.ProviderEventDetails{
			Message: fmt.Sprintf("flag source disconnected: %s", h.Detail)})
	case !was && h.Connected:
		p.cfg.logger.Info("featureflags: flag source connected", "source", p.src.Name())
		if !p.failing {
			p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flag source connected"})
		}
	}
}

// changedKeys lists, sorted, the flags added, removed or changed from a to b.
func changedKeys(a, b *flagSet) []string {
	if a == b {
		return nil
	}
	var keys []string
	for k, fa := range a.flags {
		if fb, ok := b.flags[k]; !ok || fa.digest != fb.digest {
			keys = append(keys, k)
		}
	}
	for k := range b.flags {
		if _, ok := a.flags[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// emit sends an event without blocking; a full channel drops it.
func (p *Provider) emit(t openfeature.EventType, details openfeature.ProviderEventDetails) {
	select {
	case p.events <- openfeature.Event{ProviderName: ProviderName, EventType: t, ProviderEventDetails: details}:
	default:
		p.droppedEvents.Add(1)
	}
}

// Flags returns the sorted keys of the flags currently in force.
func (p *Provider) Flags() []string { return p.flags.Load().keys() }

// Document describes the document whose flags are in force: origin, the
// source's version, hash, size and when it was loaded.
func (p *Provider) Document() DocumentInfo { return *p.doc.Load() }

// LastError returns the error of the most recent attempt to load a document
// (unreadable or invalid), or nil if it succeeded. The flags in force are then
// those of the last valid document.
func (p *Provider) LastError() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	return p.lastErr
}

// ProviderStats is a snapshot of a [Provider]'s state and counters.
type ProviderStats struct {
	Reloads       int64  // documents that replaced the flags (cumulative)
	ReloadErrors  int64  // distinct failures reported: unreadable or refused documents (cumulative)
	DroppedEvents int64  // events not sent because the channel was full (cumulative)
	Flags         int    // flags currently in force
	LastError     string // message of the last failure, "" if the last attempt succeeded
	// Document is the document in force.
	Document DocumentInfo
	// Source is the source's name and Health its last reported state.
	Source string
	Health SourceHealth
	// RuleErrors counts, per flag key, the documents that put a rule with
	// errors in force for that flag (cumulative; see [Kind] RuleError).
	RuleErrors map[string]int64
	// FlagsWithRuleErrors lists, sorted, the flags in force whose rules
	// have errors.
	FlagsWithRuleErrors []string
}

// Stats returns the provider's state and counters. It takes no lock.
func (p *Provider) Stats() ProviderStats {
	s := ProviderStats{
		Reloads:       p.reloads.Load(),
		ReloadErrors:  p.reloadErrors.Load(),
		DroppedEvents: p.droppedEvents.Load(),
		Flags:         len(p.flags.Load().flags),
		Document:      *p.doc.Load(),
		Source:        p.src.Name(),
		Health:        *p.healthNow.Load(),
	}
	if m := p.lastErrMsg.Load(); m != nil {
		s.LastError = *m
	}
	if m := p.ruleErrors.Load(); m != nil {
		s.RuleErrors = make(map[string]int64, len(*m))
		for k, c := range *m {
			s.RuleErrors[k] = c.Load()
		}
	}
	set := p.flags.Load()
	for _, k := range set.keys() {
		if f := set.flags[k]; f.ruleErrors > 0 && !f.disabled {
			s.FlagsWithRuleErrors = append(s.FlagsWithRuleErrors, k)
		}
	}
	return s
}
