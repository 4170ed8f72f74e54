package featureflags_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
)

// pushSource is a Source that delivers documents the test pushes, the way a
// watch-based store (etcd) does: Read returns the current document, Start
// hands the sink to the test.
type pushSource struct {
	mu       sync.Mutex // guards every field
	doc      featureflags.Document
	readErr  error
	startErr error
	sink     featureflags.Sink
	starts   int
	stops    int
}

func (s *pushSource) Name() string { return "push test" }

func (s *pushSource) Read(context.Context) (featureflags.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc, s.readErr
}

func (s *pushSource) Start(_ context.Context, sink featureflags.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startErr != nil {
		return s.startErr
	}
	s.sink = sink
	s.starts++
	return nil
}

func (s *pushSource) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink = nil
	s.stops++
	return nil
}

// push sets the current document and delivers it.
func (s *pushSource) push(t *testing.T, content, version string) error {
	t.Helper()
	s.mu.Lock()
	s.doc = featureflags.Document{Data: []byte(content), Format: featureflags.FormatJSON, Origin: "etcd /sshpool/flags", Version: version}
	sink, doc := s.sink, s.doc
	s.mu.Unlock()
	if sink == nil {
		t.Fatal("push before Start")
	}
	return sink.Update(doc)
}

func (s *pushSource) currentSink() featureflags.Sink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sink
}

func newPushProvider(t *testing.T) (*featureflags.Provider, *pushSource) {
	t.Helper()
	src := &pushSource{doc: featureflags.Document{Data: []byte(killSwitchFile(false)), Origin: "etcd /sshpool/flags", Version: "rev 1"}}
	p, err := featureflags.NewProvider(src, featureflags.WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	must(t, p.Init(openfeature.EvaluationContext{}))
	t.Cleanup(p.Shutdown)
	return p, src
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSourcePushedDocuments: documents a source pushes go through the same
// path as a file's: a valid one replaces the flags and is described by
// Document, an invalid one is refused once and keeps the flags, an
// identical one is a no-op.
func TestSourcePushedDocuments(t *testing.T) {
	p, src := newPushProvider(t)
	if got := p.Document(); got.Version != "rev 1" || got.SHA256 != sha(killSwitchFile(false)) ||
		got.Origin != "etcd /sshpool/flags" || !got.LoadedAt.Equal(fixedNow) || got.Size != len(killSwitchFile(false)) {
		t.Errorf("initial document %+v", got)
	}
	must(t, src.push(t, killSwitchFile(true), "rev 2"))
	ev := expectEvent(t, p, openfeature.ProviderConfigChange)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"kill-switch"}) || !killSwitch(p) {
		t.Fatalf("change %v, kill-switch %v", ev.FlagChanges, killSwitch(p))
	}
	if got := p.Document(); got.Version != "rev 2" || got.SHA256 != sha(killSwitchFile(true)) {
		t.Errorf("document after push %+v", got)
	}

	err := src.push(t, invalidFile, "rev 3")
	if !errors.Is(err, featureflags.ErrInvalidFlagFile) || !strings.Contains(err.Error(), "etcd /sshpool/flags") {
		t.Fatalf("invalid push: %v", err)
	}
	expectEvent(t, p, openfeature.ProviderError)
	if err2 := src.push(t, invalidFile, "rev 4"); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("same invalid document again: %v", err2)
	}
	noEvent(t, p)
	if !killSwitch(p) || p.Document().Version != "rev 2" {
		t.Errorf("refused document changed the flags: kill-switch %v, %+v", killSwitch(p), p.Document())
	}

	must(t, src.push(t, killSwitchFile(true), "rev 5")) // identical to the one in force
	expectEvent(t, p, openfeature.ProviderReady)
	noEvent(t, p)
	st := p.Stats()
	if st.Reloads != 1 || st.ReloadErrors != 1 || st.Source != "push test" || st.LastError != "" || !st.Health.Connected {
		t.Errorf("stats %+v", st)
	}
}

// TestSourceHealth: a disconnected source keeps the flags and is reported
// as stale; reconnecting reports ready.
func TestSourceHealth(t *testing.T) {
	p, src := newPushProvider(t)
	sink := src.currentSink()
	sink.SetHealth(featureflags.SourceHealth{Connected: false, Detail: "etcd unreachable"})
	ev := expectEvent(t, p, openfeature.ProviderStale)
	if !strings.Contains(ev.Message, "etcd unreachable") {
		t.Errorf("stale message %q", ev.Message)
	}
	if h := p.Stats().Health; h.Connected || h.Detail != "etcd unreachable" {
		t.Errorf("health %+v", h)
	}
	sink.SetHealth(featureflags.SourceHealth{Connected: false, Detail: "etcd unreachable"})
	noEvent(t, p) // unchanged
	if killSwitch(p) {
		t.Error("flags changed while disconnected")
	}
	sink.SetHealth(featureflags.SourceHealth{Connected: true})
	expectEvent(t, p, openfeature.ProviderReady)
	if !p.Stats().Health.Connected {
		t.Error("not connected after reconnect")
	}
}

// TestSourceReadFailures: a failed fetch is reported once and keeps the
// flags; Reload goes through the source's Read.
func TestSourceReadFailures(t *testing.T) {
	p, src := newPushProvider(t)
	boom := errors.New("etcd: context deadline exceeded")
	src.currentSink().ReadFailed(boom)
	ev := expectEvent(t, p, openfeature.ProviderError)
	if ev.ErrorCode != openfeature.GeneralCode || ev.Message != boom.Error() {
		t.Errorf("event %+v", ev.ProviderEventDetails)
	}
	src.currentSink().ReadFailed(boom)
	noEvent(t, p)
	if !errors.Is(p.LastError(), boom) {
		t.Errorf("last error %v", p.LastError())
	}
	src.mu.Lock()
	src.doc = featureflags.Document{Data: []byte(killSwitchFile(true)), Origin: "etcd /sshpool/flags", Version: "rev 9"}
	src.mu.Unlock()
	must(t, p.Reload())
	expectEvent(t, p, openfeature.ProviderReady)
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) || p.Document().Version != "rev 9" {
		t.Errorf("reload: kill-switch %v, %+v", killSwitch(p), p.Document())
	}
	src.mu.Lock()
	src.readErr = boom
	src.mu.Unlock()
	if err := p.Reload(); !errors.Is(err, boom) {
		t.Errorf("reload with a failing read: %v", err)
	}
}

// TestSourceRefreshAndLifecycle: Refresh re-reads through the source; the
// provider's Init and Shutdown start and stop it, and a start failure
// fails Init.
func TestSourceRefreshAndLifecycle(t *testing.T) {
	p, src := newPushProvider(t)
	src.mu.Lock()
	src.doc.Data = []byte(killSwitchFile(true))
	src.mu.Unlock()
	src.currentSink().Refresh()
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) {
		t.Error("refresh not applied")
	}
	must(t, p.ShutdownWithContext(context.Background()))
	must(t, p.Init(openfeature.EvaluationContext{}))
	src.mu.Lock()
	starts, stops := src.starts, src.stops
	src.mu.Unlock()
	if starts != 2 || stops != 1 {
		t.Errorf("starts %d, stops %d", starts, stops)
	}

	bad := &pushSource{doc: featureflags.Document{Data: []byte(killSwitchFile(false))}, startErr: errors.New("no watch")}
	q, err := featureflags.NewProvider(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Init(openfeature.EvaluationContext{}); err == nil || err.Error() != "no watch" {
		t.Errorf("Init with a failing Start: %v", err)
	}
	if _, err := featureflags.NewProvider(&pushSource{readErr: errors.New("down")}); err == nil || err.Error() != "down" {
		t.Errorf("NewProvider with a failing Read: %v", err)
	}
}

// TestSourceDocumentCap: the provider refuses a document over its cap,
// whatever the source, and keeps the flags.
func TestSourceDocumentCap(t *testing.T) {
	src := &pushSource{doc: featureflags.Document{Data: []byte(killSwitchFile(false)), Origin: "etcd /sshpool/flags"}}
	p, err := featureflags.NewProvider(src, featureflags.WithMaxDocumentBytes(int64(len(killSwitchFile(false)))))
	if err != nil {
		t.Fatal(err)
	}
	must(t, p.Init(openfeature.EvaluationContext{}))
	defer p.Shutdown()
	err = src.push(t, killSwitchFile(true)+"    ", "rev 2")
	if !errors.Is(err, featureflags.ErrDocumentTooLarge) || !strings.Contains(err.Error(), "etcd /sshpool/flags") {
		t.Fatalf("oversized push: %v", err)
	}
	if killSwitch(p) {
		t.Error("oversized document applied")
	}
	small := &pushSource{doc: featureflags.Document{Data: []byte(killSwitchFile(false))}}
	if _, err := featureflags.NewProvider(small, featureflags.WithMaxDocumentBytes(10)); !errors.Is(err, featureflags.ErrDocumentTooLarge) {
		t.Errorf("oversized first document: %v", err)
	}
}
