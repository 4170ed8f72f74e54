package etcd_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

const hang = 20 * time.Second // bound of every wait for a change to arrive

// TestReadAndFollow: the provider starts with the key's document (its
// revision as version) and follows each change; an identical rewrite
// changes nothing.
func TestReadAndFollow(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	rev := put(t, c, etcd.DefaultKey, routingDoc(false, true))
	in := startInstance(t, sourceConfig(srv))
	if d := in.provider.Document(); d.Origin != "etcd /sshpool/flags" || d.Version != "rev "+itoa(rev) {
		t.Fatalf("document %+v", d)
	}
	if !in.routesNew() {
		t.Fatal("use-new-pool on: want the new pool")
	}
	rev = put(t, c, etcd.DefaultKey, routingDoc(true, true))
	eventually(t, hang, "kill switch on did not arrive", func() bool { return !in.routesNew() })
	if d := in.provider.Document(); d.Version != "rev "+itoa(rev) {
		t.Errorf("version %q, want rev %d", d.Version, rev)
	}
	reloads := in.provider.Stats().Reloads
	put(t, c, etcd.DefaultKey, routingDoc(true, true))
	// A real change after the rewrite: the watch delivers events in
	// order, so once it is in force the rewrite has been handled too.
	rev = put(t, c, etcd.DefaultKey, routingDoc(false, true))
	eventually(t, hang, "kill switch off did not arrive", in.routesNew)
	if d := in.provider.Document(); d.Version != "rev "+itoa(rev) {
		t.Errorf("version %q, want rev %d", d.Version, rev)
	}
	if got := in.provider.Stats().Reloads; got != reloads+1 {
		t.Errorf("an identical document reloaded the flags: %d reloads, want %d", got, reloads+1)
	}
	if h := in.provider.Stats().Health; !h.Connected {
		t.Errorf("health %+v", h)
	}
}

// TestWatchFromReadRevision: a document written between the follower's
// read and the start of its watch is delivered (the watch starts at the
// read's revision + 1).
func TestWatchFromReadRevision(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	src, err := etcd.NewSource(sourceConfig(srv))
	if err != nil {
		t.Fatal(err)
	}
	once := false
	etcd.SetAfterRead(src, func() {
		if !once {
			once = true
			put(t, c, etcd.DefaultKey, routingDoc(true, true))
		}
	})
	in := startOn(t, src)
	eventually(t, hang, "the change made between read and watch was missed", func() bool { return !in.routesNew() })
}

// TestCompactionPastWatchedRevision: when etcd has compacted past the
// revision the watch starts from, the source reads the key again and
// delivers the newest document; later changes keep arriving.
func TestCompactionPastWatchedRevision(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	var log syncBuffer
	cfg := sourceConfig(srv)
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	src, err := etcd.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var compacted atomic.Int64
	etcd.SetAfterRead(src, func() {
		if compacted.Load() != 0 {
			return
		}
		put(t, c, etcd.DefaultKey, routingDoc(false, false))
		last := put(t, c, etcd.DefaultKey, routingDoc(true, false))
		if _, err := c.Compact(ctxT(t, 10*time.Second), last); err != nil {
			t.Error(err)
		}
		compacted.Store(last)
	})
	health := &healthRecorder{Source: src}
	in := startSource(t, health)
	eventually(t, hang, "the document written before the compaction did not arrive", func() bool {
		return !in.routesNew() && strings.Contains(in.provider.Document().Version, "rev ")
	})
	last := compacted.Load()
	// The watch saw the compaction and the source read the key again at
	// once: not a lost connection, and not a watch left on an old revision.
	if !strings.Contains(log.String(), "compact_revision="+itoa(last)) {
		t.Errorf("the compaction was not noticed by the watch; log:\n%s", log.String())
	}
	if down := health.downs(); len(down) != 0 {
		t.Errorf("the compaction was reported as a lost connection: %q", down)
	}
	if d := in.provider.Document(); d.Version != "rev "+itoa(last) {
		t.Errorf("version %q, want rev %d", d.Version, last)
	}
	k, _ := in.flags.Client().BooleanValue(context.Background(), featureflags.FlagKillSwitch, false, openfeature.EvaluationContext{})
	if !k {
		t.Fatal("kill switch should be on after the re-read")
	}
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	eventually(t, hang, "a change after the compaction did not arrive", in.routesNew)
}

// TestRefusedDocumentKeepsFlags: a document a provider refuses (written
// around the publisher) keeps the flags in force and is reported; the next
// valid document is applied.
func TestRefusedDocumentKeepsFlags(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	in := startInstance(t, sourceConfig(srv))
	put(t, c, etcd.DefaultKey, `{"flags": {"kill-switch": {"state": "ENABLED"}}}`)
	eventually(t, hang, "the refused document was not reported", func() bool {
		return errors.Is(in.provider.LastError(), featureflags.ErrInvalidFlagFile)
	})
	if !in.routesNew() {
		t.Fatal("a refused document changed the routing")
	}
	put(t, c, etcd.DefaultKey, routingDoc(true, true))
	eventually(t, hang, "the valid document after a refused one was not applied", func() bool {
		return !in.routesNew() && in.provider.LastError() == nil
	})
}

// TestDeletedKeyKeepsFlags: deleting the key keeps the flags and reports
// ErrNoDocument; publishing again applies.
func TestDeletedKeyKeepsFlags(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	in := startInstance(t, sourceConfig(srv))
	if _, err := c.Delete(ctxT(t, hang), etcd.DefaultKey); err != nil {
		t.Fatal(err)
	}
	eventually(t, hang, "the deletion was not reported", func() bool {
		return errors.Is(in.provider.LastError(), etcd.ErrNoDocument)
	})
	if !in.routesNew() {
		t.Fatal("deleting the key changed the routing")
	}
	if err := in.provider.Reload(); !errors.Is(err, etcd.ErrNoDocument) {
		t.Errorf("Reload of a deleted key: %v", err)
	}
	put(t, c, etcd.DefaultKey, routingDoc(true, true))
	eventually(t, hang, "publishing after a deletion did not apply", func() bool { return !in.routesNew() })
}

// TestStartWithoutDocument: with no document under the key the provider
// starts on the placeholder (no flags: everything to legacy) and the first
// publish applies.
func TestStartWithoutDocument(t *testing.T) {
	srv := etcdtest.Start(t)
	in := startInstance(t, sourceConfig(srv))
	if in.routesNew() || len(in.provider.Flags()) != 0 {
		t.Fatalf("flags %v", in.provider.Flags())
	}
	if d := in.provider.Document(); !strings.Contains(d.Origin, "no document") {
		t.Errorf("origin %q", d.Origin)
	}
	if err := in.provider.LastError(); err != nil {
		t.Errorf("an empty key is not an error at start: %v", err)
	}
	put(t, srv.Client(t), etcd.DefaultKey, routingDoc(false, true))
	eventually(t, hang, "the first publish did not apply", in.routesNew)
}

// TestStartWhileDown: an instance starting while etcd is down serves the
// cache file's document when it has one (else the placeholder), reports
// itself disconnected, and takes the live document once etcd is back.
func TestStartWhileDown(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, etcd.DefaultKey, routingDoc(false, true))
	cache := filepath.Join(t.TempDir(), "flags.cache")
	cfg := sourceConfig(srv)
	cfg.CacheFile = cache

	first := startInstance(t, cfg) // writes the cache
	eventually(t, hang, "the cache file was not written", func() bool {
		_, err := os.Stat(cache)
		return err == nil
	})
	if !first.routesNew() {
		t.Fatal("first instance")
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	cached := startInstance(t, cfg)
	if !cached.routesNew() {
		t.Error("with the cache, an instance started while etcd is down should route as the fleet did")
	}
	if d := cached.provider.Document(); !strings.Contains(d.Origin, "(cache "+cache+")") {
		t.Errorf("origin %q", d.Origin)
	}
	plain := startInstance(t, sourceConfig(srv))
	if plain.routesNew() || !strings.Contains(plain.provider.Document().Origin, "unreachable") {
		t.Errorf("without a cache: routes new %v, document %+v", plain.routesNew(), plain.provider.Document())
	}
	for i, in := range []*instance{cached, plain, first} {
		eventually(t, hang, fmt.Sprintf("instance %d not reported disconnected", i), func() bool { return !in.provider.Stats().Health.Connected })
		// Lost etcd is a stale source, not a provider in error: /readyz stays ready.
		if st := in.flags.Client().State(); st == openfeature.ErrorState || st == openfeature.NotReadyState {
			t.Errorf("instance %d: provider state %s while etcd is down", i, st)
		}
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c2 := srv.Client(t)
	put(t, c2, etcd.DefaultKey, routingDoc(true, true))
	for i, in := range []*instance{cached, plain, first} {
		eventually(t, hang, "the change after etcd came back did not arrive", func() bool {
			return !in.routesNew() && in.provider.Stats().Health.Connected
		})
		if d := in.provider.Document(); d.Origin != "etcd /sshpool/flags" {
			t.Errorf("instance %d: origin %q after reconnecting", i, d.Origin)
		}
	}
}

// TestCacheRejected: a cache file for another key, edited, or invalid is
// not used: the instance starts on the placeholder.
func TestCacheRejected(t *testing.T) {
	srv := etcdtest.Start(t)
	c := srv.Client(t)
	put(t, c, "/other/flags", routingDoc(false, true))
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cache")
	cfg := sourceConfig(srv)
	cfg.Key, cfg.CacheFile = "/other/flags", good
	startInstance(t, cfg)
	eventually(t, hang, "cache not written", func() bool { _, err := os.Stat(good); return err == nil })
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.cache")
	os.WriteFile(edited, []byte(strings.Replace(string(data), `"on"`, `"off"`, 1)), 0o600)
	// A FIFO and /dev/zero are refused without blocking or being read;
	// a good cache larger than MaxDocumentBytes plus its header line is
	// refused without being read whole.
	fifo := inputfiletest.FIFO(t, filepath.Join(dir, "fifo.cache"))
	header, doc, _ := strings.Cut(string(data), "\n")
	padded := doc + strings.Repeat(" ", 8<<10) // valid JSON, 8 KiB over the document
	sum := sha256.Sum256([]byte(padded))
	var h map[string]any
	json.Unmarshal([]byte(header), &h)
	h["sha256"] = hex.EncodeToString(sum[:])
	line, _ := json.Marshal(h)
	big := filepath.Join(dir, "big.cache")
	os.WriteFile(big, []byte(string(line)+"\n"+padded), 0o600)
	small := withCache(withKey(sourceConfig(srv), "/other/flags"), big)
	small.MaxDocumentBytes = 1024 // the cap is this plus 4 KiB for the header line
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]etcd.Config{
		"another key": withCache(sourceConfig(srv), good), // the default key, a cache of /other/flags
		"edited":      withCache(withKey(sourceConfig(srv), "/other/flags"), edited),
		"missing":     withCache(sourceConfig(srv), filepath.Join(dir, "none")),
		"dev/zero":    withCache(sourceConfig(srv), "/dev/zero"),
		"fifo":        withCache(withKey(sourceConfig(srv), "/other/flags"), fifo),
		"oversized":   small,
	} {
		t.Run(name, func(t *testing.T) {
			in := startInstance(t, cfg)
			if in.routesNew() || !strings.Contains(in.provider.Document().Origin, "unreachable") {
				t.Errorf("document %+v", in.provider.Document())
			}
		})
	}
	// The padded cache within the default cap is used: the oversized case
	// above was refused for its size alone.
	if in := startInstance(t, withCache(withKey(sourceConfig(srv), "/other/flags"), big)); !in.routesNew() {
		t.Errorf("the padded cache within the cap was not used: %+v", in.provider.Document())
	}
	if !strings.Contains(string(data), `"key":"/other/flags"`) {
		t.Errorf("cache header: %q", strings.SplitN(string(data), "\n", 2)[0])
	}
}

func withCache(c etcd.Config, path string) etcd.Config { c.CacheFile = path; return c }
func withKey(c etcd.Config, key string) etcd.Config    { c.Key = key; return c }
