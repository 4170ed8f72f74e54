package featureflags_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/capture"
)

// eventWait bounds how long a test waits for a file event. It is a deadline,
// not a sleep: tests proceed as soon as the event arrives.
const eventWait = 10 * time.Second

func killSwitchFile(on bool) string {
	def := "off"
	if on {
		def = "on"
	}
	return `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "` + def + `"},
		"greeting": {"state": "ENABLED", "variants": {"hi": "hello"}, "defaultVariant": "hi"}}}`
}

const invalidFile = `{"flags": {"kill-switch": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "nope"}}}`

// replaceFile writes content to a temporary file and renames it over path, as
// editors and deploy tools do.
func replaceFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func nextEvent(t testing.TB, p *featureflags.FileProvider) openfeature.Event {
	t.Helper()
	select {
	case ev := <-p.EventChannel():
		return ev
	case <-time.After(eventWait):
		t.Fatal("no event")
	}
	return openfeature.Event{}
}

func expectEvent(t testing.TB, p *featureflags.FileProvider, want openfeature.EventType) openfeature.Event {
	t.Helper()
	ev := nextEvent(t, p)
	if ev.EventType != want {
		t.Fatalf("event %s (%q), want %s", ev.EventType, ev.Message, want)
	}
	if ev.ProviderName != featureflags.ProviderName {
		t.Errorf("event provider name %q", ev.ProviderName)
	}
	return ev
}

// expectChangeInPlace waits for the ProviderConfigChange of a valid file
// written in place. A write in place is not atomic: the watcher may read the
// file half written, which it reports as a ProviderError (parse error) and
// later a ProviderReady, keeping the flags meanwhile; those are skipped.
func expectChangeInPlace(t testing.TB, p *featureflags.FileProvider) openfeature.Event {
	t.Helper()
	failing := false
	for {
		ev := nextEvent(t, p)
		switch {
		case ev.EventType == openfeature.ProviderError && ev.ErrorCode == openfeature.ParseErrorCode:
			failing = true
		case ev.EventType == openfeature.ProviderReady && failing:
			failing = false
		case ev.EventType == openfeature.ProviderConfigChange && !failing:
			return ev
		default:
			t.Fatalf("event %s (%q) after a valid in-place write", ev.EventType, ev.Message)
		}
	}
}

func noEvent(t testing.TB, p *featureflags.FileProvider) {
	t.Helper()
	select {
	case ev := <-p.EventChannel():
		t.Fatalf("unexpected event %s %q", ev.EventType, ev.Message)
	default:
	}
}

func killSwitch(p *featureflags.FileProvider) bool {
	return p.BooleanEvaluation(context.Background(), featureflags.FlagKillSwitch, false, nil).Value
}

// startWatching creates a provider on a fresh file and starts its watcher.
func startWatching(t *testing.T, opts ...featureflags.FileProviderOption) (*featureflags.FileProvider, string) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
	opts = append([]featureflags.FileProviderOption{featureflags.WithDebounce(10 * time.Millisecond)}, opts...)
	p := newProvider(t, path, opts...)
	if err := p.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	return p, path
}

func TestReloadSynchronous(t *testing.T) {
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
	p := newProvider(t, path)

	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	noEvent(t, p) // unchanged

	writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(false)+"\n\n")
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	noEvent(t, p) // no flag changed

	writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(true))
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	ev := expectEvent(t, p, openfeature.ProviderConfigChange)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"kill-switch"}) {
		t.Errorf("FlagChanges %v", ev.FlagChanges)
	}
	if !killSwitch(p) {
		t.Error("new value not applied")
	}

	writeFile(t, filepath.Dir(path), "flags.json", invalidFile)
	err := p.Reload()
	if !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Fatalf("invalid reload: %v", err)
	}
	ev = expectEvent(t, p, openfeature.ProviderError)
	if ev.ErrorCode != openfeature.ParseErrorCode || !strings.Contains(ev.Message, "not a variant") {
		t.Errorf("error event %+v", ev.ProviderEventDetails)
	}
	if !killSwitch(p) || p.LastError() == nil {
		t.Error("invalid file replaced the flags or was not recorded")
	}
	if err2 := p.Reload(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second reload of the same file: %v", err2)
	}
	noEvent(t, p) // reported once

	writeFile(t, filepath.Dir(path), "flags.json", `{"flags": {"kill-switch": {"state": "DISABLED", "variants": {"on": true}}, "new-flag": {"state": "DISABLED", "variants": {"a": 1}}}}`)
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, p, openfeature.ProviderReady)
	ev = expectEvent(t, p, openfeature.ProviderConfigChange)
	if want := []string{"greeting", "kill-switch", "new-flag"}; !reflect.DeepEqual(ev.FlagChanges, want) {
		t.Errorf("FlagChanges %v, want %v", ev.FlagChanges, want)
	}
	st := p.Stats()
	if st.Reloads != 3 || st.ReloadErrors != 1 || st.Flags != 2 || st.LastError != "" || p.LastError() != nil {
		t.Errorf("stats %+v, last error %v", st, p.LastError())
	}
}

func TestReloadDeletedFileKeepsFlags(t *testing.T) {
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(true))
	p := newProvider(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reload of deleted file: %v", err)
	}
	ev := expectEvent(t, p, openfeature.ProviderError)
	if ev.ErrorCode != openfeature.GeneralCode {
		t.Errorf("code %s", ev.ErrorCode)
	}
	if !killSwitch(p) {
		t.Error("flags lost")
	}
	// Restored with the same contents: ready again, nothing changed.
	writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(true))
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, p, openfeature.ProviderReady)
	noEvent(t, p)
}

// TestWatchValidChange: a valid file written in place (not replaced) is
// applied.
func TestWatchValidChange(t *testing.T) {
	p, path := startWatching(t)
	writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(true))
	ev := expectChangeInPlace(t, p)
	if !reflect.DeepEqual(ev.FlagChanges, []string{"kill-switch"}) {
		t.Errorf("FlagChanges %v", ev.FlagChanges)
	}
	if !killSwitch(p) {
		t.Error("new value not applied")
	}
}

func TestWatchInvalidKeepsFlags(t *testing.T) {
	p, path := startWatching(t)
	replaceFile(t, path, invalidFile)
	expectEvent(t, p, openfeature.ProviderError)
	if killSwitch(p) || !errors.Is(p.LastError(), featureflags.ErrInvalidFlagFile) {
		t.Errorf("after invalid file: kill-switch %v, last error %v", killSwitch(p), p.LastError())
	}
	replaceFile(t, path, killSwitchFile(true))
	expectEvent(t, p, openfeature.ProviderReady)
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) {
		t.Error("fixed file not applied")
	}
}

func TestWatchDeletedFileKeepsFlags(t *testing.T) {
	p, path := startWatching(t)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	ev := expectEvent(t, p, openfeature.ProviderError)
	if !strings.Contains(ev.Message, "featureflags: flag file: read "+path) {
		t.Errorf("message %q", ev.Message)
	}
	if got := p.BooleanEvaluation(context.Background(), featureflags.FlagKillSwitch, true, nil); got.Variant != "off" {
		t.Errorf("flags lost: %+v", got)
	}
	replaceFile(t, path, killSwitchFile(true))
	expectEvent(t, p, openfeature.ProviderReady)
	expectEvent(t, p, openfeature.ProviderConfigChange)
}

func TestWatchRenameReplace(t *testing.T) {
	p, path := startWatching(t)
	for _, on := range []bool{true, false, true} {
		replaceFile(t, path, killSwitchFile(on))
		expectEvent(t, p, openfeature.ProviderConfigChange)
		if killSwitch(p) != on {
			t.Fatalf("kill-switch %v, want %v", killSwitch(p), on)
		}
	}
}

// TestWatchKubernetesSymlinkSwap mimics a ConfigMap volume: flags.json ->
// ..data/flags.json, ..data -> ..<timestamp>, swapped by renaming ..data_tmp.
func TestWatchKubernetesSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkVersion := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), "flags.json", content)
	}
	mkVersion("..v1", killSwitchFile(false))
	must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/flags.json", filepath.Join(dir, "flags.json")))
	var logs capture.Buffer
	p := newProvider(t, filepath.Join(dir, "flags.json"), featureflags.WithDebounce(10*time.Millisecond),
		featureflags.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	must(t, p.Init(openfeature.EvaluationContext{}))
	defer p.Shutdown()

	for i, on := range []bool{true, false, true} {
		next, prev := fmt.Sprintf("..v%d", i+2), fmt.Sprintf("..v%d", i+1)
		mkVersion(next, killSwitchFile(on))
		must(t, os.Symlink(next, filepath.Join(dir, "..data_tmp")))
		must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		must(t, os.RemoveAll(filepath.Join(dir, prev)))
		expectEvent(t, p, openfeature.ProviderConfigChange)
		if killSwitch(p) != on {
			t.Fatalf("swap %d not applied", i+1)
		}
	}
	if strings.Contains(logs.String(), "directory is gone") {
		t.Errorf("a swap's removed version directory was taken for the flag file's directory:\n%s", logs.String())
	}
}

// TestWatchDirectoryReplaced: a deploy that removes the flag file's whole
// directory, or renames it away, and writes a new one: the watcher reports
// the missing file, keeps the flags, re-reads until the directory is back
// (the kill switch written meanwhile takes effect), then watches it again.
func TestWatchDirectoryReplaced(t *testing.T) {
	for _, how := range []string{"removed", "renamed"} {
		t.Run(how, func(t *testing.T) {
			var logs capture.Buffer
			base := t.TempDir()
			dir := filepath.Join(base, "cfg")
			must(t, os.Mkdir(dir, 0o755))
			path := writeFile(t, dir, "flags.json", killSwitchFile(false))
			p := newProvider(t, path, featureflags.WithDebounce(10*time.Millisecond),
				featureflags.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			must(t, p.Init(openfeature.EvaluationContext{}))
			defer p.Shutdown()

			if how == "removed" {
				must(t, os.RemoveAll(dir))
			} else {
				must(t, os.Rename(dir, dir+".old"))
			}
			expectEvent(t, p, openfeature.ProviderError) // the file is gone
			must(t, os.Mkdir(dir, 0o755))
			replaceFile(t, path, killSwitchFile(true))
			waitReady(t, p)
			if !killSwitch(p) {
				t.Fatal("the kill switch written in the new directory did not take effect")
			}
			// Watched again: the next write is applied on its own event.
			replaceFile(t, path, killSwitchFile(false))
			expectEvent(t, p, openfeature.ProviderConfigChange)
			if killSwitch(p) {
				t.Error("a write after the directory came back was not applied")
			}
			out := logs.String()
			if !strings.Contains(out, "directory is gone") || !strings.Contains(out, "watching the flag file's directory again") {
				t.Errorf("logs:\n%s", out)
			}
		})
	}
}

// TestWatchOverflowRereads: when the kernel's event queue overflows, events
// may have been lost, so the watcher re-reads the file.
func TestWatchOverflowRereads(t *testing.T) {
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
	p := newProvider(t, path, featureflags.WithDebounce(10*time.Millisecond))
	errs := make(chan error, 1)
	defer p.WatchEventsAndErrors(nil, errs)()
	replaceFile(t, path, killSwitchFile(true)) // no event reaches the watcher
	errs <- fmt.Errorf("inotify: %w", fsnotify.ErrEventOverflow)
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) {
		t.Error("the change made during the overflow was not applied")
	}
}

// waitReady skips error and readiness events up to the next
// ProviderConfigChange.
func waitReady(t *testing.T, p *featureflags.FileProvider) {
	t.Helper()
	for {
		switch ev := nextEvent(t, p); ev.EventType {
		case openfeature.ProviderConfigChange:
			return
		case openfeature.ProviderError, openfeature.ProviderReady:
		default:
			t.Fatalf("event %s (%q)", ev.EventType, ev.Message)
		}
	}
}

// TestWatchDebounce: a burst of change events, each within the debounce of
// the one before, causes one reload, a debounce after the last event, and
// that reload applies the last write. The watcher runs under synctest, fed
// by events the test sends, so the burst's timing is exact on any machine.
func TestWatchDebounce(t *testing.T) {
	const debounce = 200 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
		p := newProvider(t, path, featureflags.WithDebounce(debounce))
		events := make(chan fsnotify.Event)
		defer p.WatchEvents(events)()
		write := func(content string) {
			writeFile(t, filepath.Dir(path), "flags.json", content)
			events <- fsnotify.Event{Name: path, Op: fsnotify.Write}
		}
		for i := range 40 {
			write(killSwitchFile(i%2 == 0))
			time.Sleep(debounce / 2)
			synctest.Wait()
			noEvent(t, p) // no reload while the burst goes on
		}
		write(killSwitchFile(true))
		time.Sleep(debounce - time.Nanosecond)
		synctest.Wait()
		noEvent(t, p)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		expectEvent(t, p, openfeature.ProviderConfigChange)
		if !killSwitch(p) {
			t.Error("last write not applied")
		}
		if r := p.Stats().Reloads; r != 1 {
			t.Errorf("%d reloads for one burst, want 1", r)
		}
	})
}

// TestWatchBurstAppliesLastWrite: after a burst of atomic replacements
// seen through fsnotify, the last one is in force. However the reloads fall
// (that is up to the machine's speed), each sees a whole file: every event
// is a change, never an error.
func TestWatchBurstAppliesLastWrite(t *testing.T) {
	p, path := startWatching(t)
	last := strings.Replace(killSwitchFile(true), `"hello"`, `"goodbye"`, 1)
	for range 5 { // at most 11 reloads: the event channel holds them all
		replaceFile(t, path, killSwitchFile(true))
		replaceFile(t, path, killSwitchFile(false))
	}
	replaceFile(t, path, last)
	for greeting(p) != "goodbye" {
		expectEvent(t, p, openfeature.ProviderConfigChange)
	}
	if !killSwitch(p) {
		t.Error("last write not applied")
	}
}

func greeting(p *featureflags.FileProvider) string {
	return p.StringEvaluation(context.Background(), "greeting", "", nil).Value
}

func TestWatchPolling(t *testing.T) {
	p, path := startWatching(t, featureflags.WithPollInterval(20*time.Millisecond))
	replaceFile(t, path, killSwitchFile(true))
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) {
		t.Error("change not applied")
	}
}

func TestLifecycle(t *testing.T) {
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
	p := newProvider(t, path, featureflags.WithDebounce(0))
	ctx := context.Background()
	must(t, p.InitWithContext(ctx, openfeature.EvaluationContext{}))
	must(t, p.InitWithContext(ctx, openfeature.EvaluationContext{})) // no-op
	must(t, p.ShutdownWithContext(ctx))
	must(t, p.ShutdownWithContext(ctx)) // no-op
	p.Shutdown()

	// Not watching: a change is not seen until Reload or Init.
	writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(true))
	if killSwitch(p) {
		t.Fatal("changed without watching")
	}
	must(t, p.Init(openfeature.EvaluationContext{})) // restart re-reads the file
	expectEvent(t, p, openfeature.ProviderConfigChange)
	if !killSwitch(p) {
		t.Error("Init did not pick up the change")
	}
	replaceFile(t, path, killSwitchFile(false))
	expectEvent(t, p, openfeature.ProviderConfigChange)
	p.Shutdown()

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.InitWithContext(cancelled, openfeature.EvaluationContext{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Init with cancelled ctx: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReloadInvalidDeletedRestored(t *testing.T) {
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(true))
	p := newProvider(t, path)
	writeFile(t, filepath.Dir(path), "flags.json", invalidFile)
	if err := p.Reload(); !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Fatal(err)
	}
	expectEvent(t, p, openfeature.ProviderError)
	must(t, os.Remove(path))
	if err := p.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	expectEvent(t, p, openfeature.ProviderError)
	writeFile(t, filepath.Dir(path), "flags.json", invalidFile)
	if err := p.Reload(); !errors.Is(err, featureflags.ErrInvalidFlagFile) {
		t.Fatalf("restored invalid file: %v", err)
	}
	if ev := expectEvent(t, p, openfeature.ProviderError); ev.ErrorCode != openfeature.ParseErrorCode {
		t.Errorf("code %s", ev.ErrorCode)
	}
	if !killSwitch(p) || p.Stats().ReloadErrors != 3 {
		t.Errorf("kill-switch %v, stats %+v", killSwitch(p), p.Stats())
	}
}

func TestReloadLogsAndDroppedEvents(t *testing.T) {
	var logs capture.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	path := writeFile(t, t.TempDir(), "flags.json", killSwitchFile(false))
	p := newProvider(t, path, featureflags.WithLogger(logger), featureflags.WithLogger(nil))
	for i := range 20 {
		writeFile(t, filepath.Dir(path), "flags.json", killSwitchFile(i%2 == 0))
		must(t, p.Reload())
	}
	if st := p.Stats(); st.DroppedEvents != 4 || st.Reloads != 20 {
		t.Errorf("stats %+v", st)
	}
	writeFile(t, filepath.Dir(path), "flags.json", invalidFile)
	_ = p.Reload()
	out := logs.String()
	if !strings.Contains(out, "level=INFO msg=\"featureflags: flags reloaded\"") ||
		!strings.Contains(out, "level=WARN msg=\"featureflags: flag document rejected, keeping the previous flags\"") ||
		!strings.Contains(out, `source="file `+path+`"`) || !strings.Contains(out, `version="mtime `) {
		t.Errorf("logs:\n%s", out)
	}
}

// TestWatchDirectoryGone: when the directory cannot be watched, Init fails
// without polling and falls back to polling with it.
func TestWatchDirectoryGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	must(t, os.Mkdir(dir, 0o755))
	path := writeFile(t, dir, "flags.json", killSwitchFile(false))
	strict := newProvider(t, path)
	polling := newProvider(t, path, featureflags.WithPollInterval(10*time.Millisecond))
	must(t, os.RemoveAll(dir))

	if err := strict.Init(openfeature.EvaluationContext{}); err == nil || !strings.Contains(err.Error(), "watch flag file") {
		t.Fatalf("Init without polling: %v", err)
	}
	must(t, polling.Init(openfeature.EvaluationContext{}))
	defer polling.Shutdown()
	expectEvent(t, polling, openfeature.ProviderError) // the file is gone
	must(t, os.Mkdir(dir, 0o755))
	replaceFile(t, path, killSwitchFile(true))
	expectEvent(t, polling, openfeature.ProviderReady)
	expectEvent(t, polling, openfeature.ProviderConfigChange)
	if !killSwitch(polling) {
		t.Error("polling did not apply the new file")
	}
}
