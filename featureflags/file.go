package featureflags

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// FileSource is a [Source] reading a flag file and following its changes.
//
// Reads are bounded: the path must be a regular file once symbolic links
// are resolved (a FIFO, a device such as /dev/zero, a socket or a directory
// is refused before anything is read), it is opened without blocking, a file
// larger than the size cap is refused without being read whole, and a read
// that takes longer than the timeout is abandoned.
//
// Following changes, the parent directory is watched (not the file) so that
// rename-replace, atomic writes and Kubernetes ConfigMap symlink swaps are
// seen; if the path is a symlink, its target's directory is watched too.
// Events are debounced ([WithDebounce]) and a polling fallback can be added
// ([WithPollInterval]). A failed read never stops the watching: it is
// reported, the flags in force stay, and the next change is read again.
type FileSource struct {
	path string
	cfg  fileSourceConfig

	// mu guards w (the running watcher, nil when stopped).
	mu sync.Mutex
	w  *watcher
}

// fileSourceConfig holds a FileSource's options.
type fileSourceConfig struct {
	debounce     time.Duration
	pollInterval time.Duration
	maxBytes     int64 // 0: DefaultMaxDocumentBytes
	readTimeout  time.Duration
	logger       *slog.Logger // nil: discard
}

// FileSourceOption configures a [FileSource]. Every FileSourceOption is also
// a [FileProviderOption].
type FileSourceOption func(*fileSourceConfig)

func (o FileSourceOption) applyFileProvider(c *fileProviderConfig) { o(&c.source) }

// WithDebounce sets how long the file must be quiet after a change event before
// it is reloaded, so that an editor's burst of writes gives one reload.
// Default [DefaultDebounce]; zero or negative means reload on the first event.
func WithDebounce(d time.Duration) FileSourceOption {
	return func(c *fileSourceConfig) { c.debounce = max(d, 0) }
}

// WithPollInterval adds a polling fallback: the file is also re-read every d
// (and reloaded if its contents changed), for file systems without change
// notification (some network and FUSE mounts) or a path that is a symlink into
// another directory. Default 0: no polling.
func WithPollInterval(d time.Duration) FileSourceOption {
	return func(c *fileSourceConfig) { c.pollInterval = max(d, 0) }
}

// WithReadLimits bounds one read of the file: a file larger than maxBytes is
// refused, and a read that takes longer than timeout is abandoned. Zero or
// negative values mean the defaults: with [NewFileProvider] the provider's
// document cap ([WithMaxDocumentBytes], default [DefaultMaxDocumentBytes]),
// and [DefaultReadTimeout].
func WithReadLimits(maxBytes int64, timeout time.Duration) FileSourceOption {
	return func(c *fileSourceConfig) { c.maxBytes, c.readTimeout = maxBytes, timeout }
}

func defaultFileSourceConfig() fileSourceConfig {
	return fileSourceConfig{debounce: DefaultDebounce}
}

// NewFileSource returns a source for the flag file at path. It does no I/O.
func NewFileSource(path string, opts ...FileSourceOption) *FileSource {
	c := defaultFileSourceConfig()
	for _, o := range opts {
		o(&c)
	}
	return newFileSource(path, c)
}

func newFileSource(path string, c fileSourceConfig) *FileSource {
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxDocumentBytes
	}
	if c.readTimeout <= 0 {
		c.readTimeout = DefaultReadTimeout
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return &FileSource{path: path, cfg: c}
}

// Path returns the flag file's path.
func (s *FileSource) Path() string { return s.path }

// Name returns "file PATH".
func (s *FileSource) Name() string { return "file " + s.path }

// Read reads the file within the source's limits. The document's origin is
// the path and its version the file's modification time.
func (s *FileSource) Read(ctx context.Context) (Document, error) {
	data, err := inputfile.ReadContext(ctx, s.path, inputfile.Limits{MaxBytes: s.cfg.maxBytes, Timeout: s.cfg.readTimeout})
	if err != nil {
		return Document{}, fmt.Errorf("featureflags: flag file: %w", err)
	}
	doc := Document{Data: data, Origin: s.path}
	if fi, err := os.Stat(s.path); err == nil {
		doc.Version = "mtime " + fi.ModTime().UTC().Format(time.RFC3339Nano)
	}
	return doc, nil
}

// watcher is one run of the file watcher, from Start to Stop.
type watcher struct {
	fs      *fsnotify.Watcher     // nil when the directory could not be watched and polling is on
	events  <-chan fsnotify.Event // fs.Events, or nil
	errs    <-chan error          // fs.Errors, or nil
	targets map[string]bool       // cleaned paths whose events matter: the file and its symlink target
	stop    chan struct{}         // closed by Stop
	done    chan struct{}         // closed when the goroutine has ended
}

// Start watches the file's directory and starts the watcher goroutine,
// which calls sink.Refresh after each (debounced) change and each poll.
// If the directory cannot be watched, Start fails unless polling is
// configured. Calling it while started does nothing.
func (s *FileSource) Start(_ context.Context, sink Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		return nil
	}
	w, err := s.newWatcher()
	if err != nil {
		return err
	}
	s.w = w
	go s.watchLoop(w, sink)
	return nil
}

// Stop stops watching and waits for the watcher goroutine to end, or for ctx
// to be done (the goroutine then still ends promptly on its own).
func (s *FileSource) Stop(ctx context.Context) error {
	s.mu.Lock()
	w := s.w
	s.w = nil
	s.mu.Unlock()
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
func (s *FileSource) newWatcher() (*watcher, error) {
	w := &watcher{
		targets: watchTargets(s.path),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	fsw, err := addWatches(w.targets)
	if err != nil {
		if s.cfg.pollInterval <= 0 {
			return nil, fmt.Errorf("featureflags: watch flag file: %w", err)
		}
		s.cfg.logger.Warn("featureflags: cannot watch the flag file, polling only",
			"path", s.path, "interval", s.cfg.pollInterval, "error", err)
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
// configured, and asks the provider to re-read. It owns w.fs and closes it
// when stopped. A failed read is the provider's to report; the loop goes on.
func (s *FileSource) watchLoop(w *watcher, sink Sink) {
	defer close(w.done)
	events, errs := w.events, w.errs
	if w.fs != nil {
		defer w.fs.Close()
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var poll <-chan time.Time
	if s.cfg.pollInterval > 0 {
		t := time.NewTicker(s.cfg.pollInterval)
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
				debounce.Reset(s.cfg.debounce)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
			} else {
				s.cfg.logger.Warn("featureflags: watcher error", "path", s.path, "error", err)
			}
		case <-debounce.C:
			sink.Refresh()
		case <-poll:
			sink.Refresh()
		}
	}
}
