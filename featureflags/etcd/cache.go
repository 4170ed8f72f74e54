package etcd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/inputfile"
)

// The cache file holds the last document the source saw in force: a JSON
// header line, then the document's bytes exactly as etcd held them
// (`tail -n +2 FILE` prints it).
//
//	{"key":"/sshpool/flags","revision":42,"sha256":"…","written_at":"…"}
//	{"flags": {…}}

// cacheHeader is the cache file's first line.
type cacheHeader struct {
	Key       string    `json:"key"`
	Revision  int64     `json:"revision"`
	SHA256    string    `json:"sha256"`
	WrittenAt time.Time `json:"written_at"`
}

// maxCacheHeader bounds the header line.
const maxCacheHeader = 4096

// writeCache replaces the cache file with snap's document atomically (a
// temporary file in the same directory, synced, renamed over it), so a
// reader never sees half a file. A failure is logged: the cache is an aid,
// never a reason to stop following.
func (f *follower) writeCache(snap *snapshot) {
	path := f.src.cfg.CacheFile
	if path == "" {
		return
	}
	if err := writeCacheFile(path, f.src.cfg.Key, snap); err != nil {
		f.src.log.Warn("etcd: cache file not written", "cache", path, "error", err)
		return
	}
	f.cachedRev = snap.modRev
}

func writeCacheFile(path, key string, snap *snapshot) error {
	sum := sha256.Sum256(snap.doc.Data)
	header, err := json.Marshal(cacheHeader{Key: key, Revision: snap.modRev,
		SHA256: hex.EncodeToString(sum[:]), WrittenAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	_, err = tmp.Write(append(append(header, '\n'), snap.doc.Data...))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil { // make the rename durable
		dir.Sync()
		dir.Close()
	}
	return nil
}

// readCache reads the cache file (bounded in size and time) and returns
// its document, if it is for this key, intact and valid.
func (s *Source) readCache() (*snapshot, error) {
	if s.cfg.CacheFile == "" {
		return nil, fmt.Errorf("etcd: no cache file configured")
	}
	data, err := inputfile.Read(s.cfg.CacheFile, inputfile.Limits{
		MaxBytes: s.cfg.MaxDocumentBytes + maxCacheHeader, Timeout: s.cfg.RequestTimeout})
	if err != nil {
		return nil, err
	}
	line, doc, ok := bytes.Cut(data, []byte("\n"))
	var h cacheHeader
	if !ok || len(line) > maxCacheHeader || json.Unmarshal(line, &h) != nil {
		return nil, fmt.Errorf("etcd: cache file %s: no header line", s.cfg.CacheFile)
	}
	if h.Key != s.cfg.Key {
		return nil, fmt.Errorf("etcd: cache file %s holds key %s, not %s", s.cfg.CacheFile, inputfile.Excerpt(h.Key, 0), s.cfg.Key)
	}
	if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, fmt.Errorf("etcd: cache file %s: the document does not match its SHA-256 (truncated or edited)", s.cfg.CacheFile)
	}
	origin := fmt.Sprintf("%s (cache %s)", s.name, s.cfg.CacheFile)
	if _, err := featureflags.ValidateFlagFile(origin, doc); err != nil {
		return nil, err
	}
	return &snapshot{modRev: h.Revision, present: true, cached: true, doc: featureflags.Document{
		Data: doc, Origin: origin, Version: revisionVersion(h.Revision)}}, nil
}
