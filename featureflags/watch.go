package featureflags

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/open-feature/go-sdk/openfeature"
)

// watcher is one run of the file watcher, from Init to Shutdown.
type watcher struct {
	fs      *fsnotify.Watcher     // nil when the directory could not be watched and polling is on
	events  <-chan fsnotify.Event // fs.Events, or nil
	errs    <-chan error          // fs.Errors, or nil
	targets map[string]bool       // cleaned paths whose events matter: the file and its symlink target
	stop    chan struct{}         // closed by Shutdown
	done    chan struct{}         // closed when the goroutine has ended
}

// Init starts watching the flag file; see InitWithContext.
func (p *FileProvider) Init(ec openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), ec)
}

// InitWithContext starts watching the flag file, then re-reads it once to pick
// up a change made since [NewFileProvider]. The OpenFeature API calls it when
// the provider is set. It starts one goroutine, ended by Shutdown; calling it
// again while watching does nothing. The evaluation context is not used.
//
// The parent directory is watched (not the file) so that rename-replace, atomic
// writes and Kubernetes ConfigMap symlink swaps are seen; if the path is a
// symlink, its target's directory is watched too. Events are debounced
// ([WithDebounce]); a polling fallback can be added with [WithPollInterval].
// If the directory cannot be watched, Init fails unless polling is configured.
func (p *FileProvider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	p.lifeMu.Lock()
	defer p.lifeMu.Unlock()
	if p.watch != nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w, err := p.newWatcher()
	if err != nil {
		return err
	}
	p.watch = w
	go p.watchLoop(w)
	_ = p.Reload() // a failure is reported by Reload and the constructed flags stay
	return nil
}

// Shutdown stops watching and waits for the watcher goroutine to end.
func (p *FileProvider) Shutdown() {
	_ = p.ShutdownWithContext(context.Background())
}

// ShutdownWithContext stops watching and waits for the watcher goroutine to
// end, or for ctx to be done (the goroutine then still ends promptly on its
// own). The flags in force keep being served; Init may start watching again.
func (p *FileProvider) ShutdownWithContext(ctx context.Context) error {
	p.lifeMu.Lock()
	w := p.watch
	p.watch = nil
	p.lifeMu.Unlock()
	if w == nil {
		return nil
	}
	close(w.stop)
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newWatcher sets up change notification for the file's directory (and its
// symlink target's directory).
func (p *FileProvider) newWatcher() (*watcher, error) {
	w := &watcher{
		targets: watchTargets(p.path),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	fsw, err := addWatches(w.targets)
	if err != nil {
		if p.cfg.pollInterval <= 0 {
			return nil, fmt.Errorf("featureflags: watch flag file: %w", err)
		}
		p.cfg.logger.Warn("featureflags: cannot watch the flag file, polling only",
			"path", p.path, "interval", p.cfg.pollInterval, "error", err)
	}
	if fsw != nil {
		w.fs, w.events, w.errs = fsw, fsw.Events, fsw.Errors
	}
	return w, nil
}

// watchTargets returns the file's cleaned path and, if it is a symlink, its
// resolved target.
func watchTargets(path string) map[string]bool {
	clean := filepath.Clean(path)
	targets := map[string]bool{clean: true}
	if real, err := filepath.EvalSymlinks(clean); err == nil {
		targets[filepath.Clean(real)] = true
	}
	return targets
}

// addWatches watches the directory of every target.
func addWatches(targets map[string]bool) (*fsnotify.Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for t := range targets {
		if err := fsw.Add(filepath.Dir(t)); err != nil {
			_ = fsw.Close()
			return nil, err
		}
	}
	return fsw, nil
}

// relevant reports whether an event may have changed the file: an event on the
// file or its symlink target, or on a Kubernetes "..data" style entry.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	return w.targets[name] || strings.HasPrefix(filepath.Base(name), "..")
}

// watchLoop is the watcher goroutine: it debounces change events, polls if
// configured, and reloads. It owns w.fs and closes it when stopped.
func (p *FileProvider) watchLoop(w *watcher) {
	defer close(w.done)
	events, errs := w.events, w.errs
	if w.fs != nil {
		defer w.fs.Close()
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var poll <-chan time.Time
	if p.cfg.pollInterval > 0 {
		t := time.NewTicker(p.cfg.pollInterval)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
			} else if w.relevant(ev) {
				debounce.Reset(p.cfg.debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
			} else {
				p.cfg.logger.Warn("featureflags: watcher error", "path", p.path, "error", err)
			}
		case <-debounce.C:
			_ = p.Reload()
		case <-poll:
			_ = p.Reload()
		}
	}
}

// Reload re-reads the flag file now and, if its contents changed and are
// valid, replaces the flags in force. It returns the error that keeps the
// previous flags in force (unreadable or invalid file), else nil. The watcher
// calls it after a change; it is also handy for an admin command or SIGHUP.
//
// A failure is logged, counted and sent as ProviderError once per distinct
// failure; a success that changed flags sends ProviderConfigChange with the
// changed keys, preceded by ProviderReady if the previous attempt had failed.
func (p *FileProvider) Reload() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	data, err := os.ReadFile(p.path)
	if err != nil {
		p.lastData = nil // contents read next are checked afresh
		return p.failLocked(fmt.Errorf("featureflags: read flag file: %w", err), openfeature.GeneralCode)
	}
	old := p.flags.Load()
	if bytes.Equal(data, p.goodData) {
		p.recoverLocked(data, old, old)
		return nil
	}
	if p.lastErr != nil && bytes.Equal(data, p.lastData) {
		return p.lastErr // the same invalid contents, already reported
	}
	p.lastData = data
	set, err := parseFlagSet(p.path, data)
	if err != nil {
		return p.failLocked(fmt.Errorf("%w (file %s)", err, p.path), openfeature.ParseErrorCode)
	}
	p.flags.Store(set)
	p.reloads.Add(1)
	p.recoverLocked(data, old, set)
	return nil
}

// failLocked records and reports a failed reload, once per distinct error.
// Caller holds p.reloadMu.
func (p *FileProvider) failLocked(err error, code openfeature.ErrorCode) error {
	if p.lastErr != nil && p.lastErr.Error() == err.Error() {
		return p.lastErr
	}
	p.lastErr = err
	msg := err.Error()
	p.lastErrMsg.Store(&msg)
	p.reloadErrors.Add(1)
	p.failing = true
	p.cfg.logger.Warn("featureflags: flag file rejected, keeping the previous flags",
		"path", p.path, "error", err)
	p.emit(openfeature.ProviderError, openfeature.ProviderEventDetails{Message: msg, ErrorCode: code})
	return err
}

// recoverLocked records a successful reload from old to cur and reports it.
// Caller holds p.reloadMu.
func (p *FileProvider) recoverLocked(data []byte, old, cur *flagSet) {
	p.goodData, p.lastData, p.lastErr = data, data, nil
	p.lastErrMsg.Store(nil)
	if p.failing {
		p.failing = false
		p.emit(openfeature.ProviderReady, openfeature.ProviderEventDetails{Message: "flag file valid again"})
	}
	changed := changedKeys(old, cur)
	if len(changed) == 0 {
		return
	}
	p.cfg.logger.Info("featureflags: flag file reloaded", "path", p.path, "changed", changed)
	p.emit(openfeature.ProviderConfigChange, openfeature.ProviderEventDetails{
		Message:     "flag file reloaded",
		FlagChanges: changed,
	})
}

// changedKeys lists, sorted, the flags added, removed or changed from a to b.
func changedKeys(a, b *flagSet) []string {
	if a == b {
		return nil
	}
	var keys []string
	for k, fa := range a.flags {
		if fb, ok := b.flags[k]; !ok || fa.canonical != fb.canonical {
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
