package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags"
)

// Source is a featureflags.Source that reads the flag document under one
// etcd key and follows it with a watch. See the package documentation for
// what it does when etcd is lost, the key is compacted or deleted, and for
// the cache file.
type Source struct {
	cfg  Config
	name string
	log  *slog.Logger

	// mu guards latest, served and placeholder. Never held across I/O or
	// a Sink call.
	mu          sync.Mutex
	latest      *snapshot             // the most recent state observed; nil before the first
	served      bool                  // Read has returned a document
	placeholder bool                  // the document Read returned last is a placeholder
	lastDoc     featureflags.Document // the document last returned or delivered

	// lifeMu guards client, cancel and done, and serialises Start and
	// Stop. Lock order: lifeMu before mu.
	lifeMu sync.Mutex
	client *clientv3.Client // shared by the follower and Read while started; nil otherwise
	cancel context.CancelFunc
	done   chan struct{} // closed when the follower has ended

	afterRead func() // tests: called by the follower between its read and its watch
}

var _ featureflags.Source = (*Source)(nil)

// NewSource returns a source for cfg.Key. It validates cfg and does no I/O:
// connecting waits for Read or Start, so a source can be built while etcd
// is down.
func NewSource(cfg Config) (*Source, error) {
	c, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	return &Source{cfg: c, name: "etcd " + c.Key, log: c.Logger}, nil
}

// Name returns "etcd KEY".
func (s *Source) Name() string { return s.name }

// Key returns the key that holds the document.
func (s *Source) Key() string { return s.cfg.Key }

// Read returns the document under the key, read from etcd (a linearizable
// read, bounded by ctx and RequestTimeout). It never returns a document
// older than one it or the watch has returned before.
//
// The first document a source gives cannot be "keep the flags you have":
// when etcd cannot be reached, the first Read returns the cache file's
// document if there is a valid one for this key, else a placeholder with
// no flags (every call then routes to the legacy pool); when the key holds
// no document it returns that placeholder too. Later, a key with no
// document is an error (ErrNoDocument: the provider keeps its flags);
// etcd out of reach is an error only while the source is not started:
// started, the source reports it as its health (not connected) and Read
// returns the document last served, so a lost etcd makes the provider
// stale, not failed.
func (s *Source) Read(ctx context.Context) (featureflags.Document, error) {
	cli, release, err := s.readClient(ctx)
	var snap *snapshot
	if err == nil {
		snap, err = s.fetch(ctx, cli)
		release()
	}
	if err != nil {
		return s.readFailed(err, s.started())
	}
	return s.serve(s.advance(snap))
}

// started reports whether the follower runs.
func (s *Source) started() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.done != nil
}

// readClient returns the follower's client while started, else a client of
// its own, closed by release.
func (s *Source) readClient(ctx context.Context) (*clientv3.Client, func(), error) {
	s.lifeMu.Lock()
	cli := s.client
	s.lifeMu.Unlock()
	if cli != nil {
		return cli, func() {}, nil
	}
	cli, err := newClient(ctx, s.cfg)
	if err != nil {
		return nil, nil, err
	}
	return cli, func() { cli.Close() }, nil
}

// fetch reads the key: it waits for a ready connection (DialTimeout), then
// gets the key, all within RequestTimeout.
func (s *Source) fetch(ctx context.Context, cli *clientv3.Client) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := waitReady(ctx, cli, s.cfg.DialTimeout); err != nil {
		return nil, fmt.Errorf("etcd: read %s: %w", s.cfg.Key, err)
	}
	resp, err := cli.Get(ctx, s.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("etcd: read %s: %w", s.cfg.Key, classify(err))
	}
	if len(resp.Kvs) == 0 {
		return s.liveSnapshot(nil, resp.Header.Revision), nil
	}
	return s.liveSnapshot(resp.Kvs[0], resp.Header.Revision), nil
}

// advance makes snap the latest state if it is newer and returns the
// latest state.
func (s *Source) advance(snap *snapshot) *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.newer(s.latest) {
		s.latest = snap
	}
	return s.latest
}

// serve returns snap's document as Read gives it.
func (s *Source) serve(snap *snapshot) (featureflags.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case snap.present:
		s.served, s.placeholder, s.lastDoc = true, false, snap.doc
		return snap.doc, nil
	case !s.served || s.placeholder:
		s.served, s.placeholder = true, true
		s.log.Warn("etcd: no flag document under the key: every call routes to the legacy pool until one is published",
			"key", s.cfg.Key)
		s.lastDoc = s.placeholderDoc("no document")
		return s.lastDoc, nil
	}
	return featureflags.Document{}, fmt.Errorf("%w %s (at revision %d)", ErrNoDocument, s.cfg.Key, snap.observed)
}

// readFailed handles a failed read. Before any document was served it
// returns the cache's document or the placeholder. After, losing etcd while
// started is not a read failure but a state the follower reports as the
// source's health: the document last served stands. Anything else is an
// error (the provider keeps its flags and reports it).
func (s *Source) readFailed(err error, started bool) (featureflags.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		if started && errors.Is(err, ErrUnreachable) {
			return s.lastDoc, nil
		}
		return featureflags.Document{}, err
	}
	s.served = true
	// Why there is no live document: etcd out of reach, or etcd answered
	// but refused (a password, a permission), which the log must not call
	// unreachable.
	why := "unreachable at start"
	if !errors.Is(err, ErrUnreachable) {
		why = "key not read at start"
	}
	if snap, cerr := s.readCache(); cerr == nil {
		s.log.Warn("etcd: "+why+", serving the cached flag document",
			"key", s.cfg.Key, "cache", s.cfg.CacheFile, "version", snap.doc.Version, "error", err)
		if snap.newer(s.latest) {
			s.latest = snap
		}
		s.lastDoc = snap.doc
		return snap.doc, nil
	} else if s.cfg.CacheFile != "" {
		s.log.Warn("etcd: cache file not used", "cache", s.cfg.CacheFile, "error", cerr)
	}
	s.placeholder = true
	s.log.Warn("etcd: "+why+" and no cached document: every call routes to the legacy pool until the key is read",
		"key", s.cfg.Key, "error", err)
	s.lastDoc = s.placeholderDoc(why + ", no cache")
	return s.lastDoc, nil
}

// Start connects (in the background: etcd may be down) and follows the key
// until Stop: see the package documentation. It returns at once; calling it
// while started does nothing.
func (s *Source) Start(_ context.Context, sink featureflags.Sink) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.done != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	f := &follower{src: s, sink: sink, ctx: ctx}
	go f.run(s.done)
	return nil
}

// setClient publishes the follower's client for Read.
func (s *Source) setClient(cli *clientv3.Client) {
	s.lifeMu.Lock()
	s.client = cli
	s.lifeMu.Unlock()
}

// clearClient withdraws cli, if it is still the published client (a
// follower ending after Stop must not withdraw the next one's).
func (s *Source) clearClient(cli *clientv3.Client) {
	s.lifeMu.Lock()
	if s.client == cli {
		s.client = nil
	}
	s.lifeMu.Unlock()
}

// Stop ends the follower and closes its connection, waiting for both,
// bounded by ctx (they end promptly anyway). Stop without Start, or twice,
// does nothing.
func (s *Source) Stop(ctx context.Context) error {
	s.lifeMu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.lifeMu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcd: stop %s: %w", s.cfg.Key, ctx.Err())
	}
}
