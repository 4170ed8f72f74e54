package sshconn

import (
	"io/fs"
	"os"
	"sync"

	"github.com/sshpool/sshpool/pool"
)

var _ pool.ChangeDetector = (*Factory)(nil)

// ChangedKeys implements pool.ChangeDetector: it returns the keys whose
// last dial failed permanently (authentication, host key, configuration)
// and one of whose local inputs changed since (a known_hosts file, user or
// global; an identity file, its public key or certificate; a certificate
// file; of the target or of a jump host: its
// size, modification time or identity, or whether it exists), each
// reported once. It costs one stat per distinct file of the failing keys.
func (f *Factory) ChangedKeys() []string { return f.inputs.changed() }

// inputStamps remembers, per key whose last dial failed permanently, the
// state of the files that dial read, so that a change an operator makes
// to fix it (known_hosts corrected, key replaced) can be told to the pool.
type inputStamps struct {
	mu   sync.Mutex // guards keys
	keys map[string][]fileStamp
}

// fileStamp is a file's state: info is nil when the file was missing.
type fileStamp struct {
	path string
	info fs.FileInfo
}

// stampInputs stats the local files a dial of t reads. DialTarget takes
// the stamps before each attempt, so that they describe the files the
// attempt read: stamped after a failure, a fix made while the dial was in
// flight would look like the state that failed, and never be reported.
func stampInputs(t Target) []fileStamp {
	var st []fileStamp
	for _, path := range targetInputs(t, nil) {
		st = append(st, stamp(path))
	}
	return st
}

// failed records st, the stamps of the inputs of key's dial that failed
// permanently.
func (s *inputStamps) failed(key string, st []fileStamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string][]fileStamp{}
	}
	s.keys[key] = st
}

// ok forgets key after a successful dial.
func (s *inputStamps) ok(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
}

// changed returns and forgets the keys whose stamped files changed.
func (s *inputStamps) changed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := map[string]fileStamp{} // one stat per distinct file
	var out []string
	for key, st := range s.keys {
		for _, old := range st {
			cur, ok := now[old.path]
			if !ok {
				cur = stamp(old.path)
				now[old.path] = cur
			}
			if !sameStamp(old, cur) {
				out = append(out, key)
				delete(s.keys, key)
				break
			}
		}
	}
	return out
}

// targetInputs appends the local files a dial of t reads that an operator
// may fix: known_hosts (user and global), identity files with their
// public key and "-cert.pub" certificate, and certificate files.
func targetInputs(t Target, out []string) []string {
	out = append(out, t.knownHostsFiles()...)
	for _, files := range [][]string{t.Auth.IdentityFiles, t.Auth.OptionalIdentityFiles} {
		for _, f := range files {
			out = append(out, f, f+".pub", f+"-cert.pub")
		}
	}
	out = append(out, t.Auth.CertificateFiles...)
	for _, hop := range t.JumpHosts {
		out = targetInputs(hop, out)
	}
	return out
}

func stamp(path string) fileStamp {
	info, err := os.Stat(path)
	if err != nil {
		info = nil
	}
	return fileStamp{path: path, info: info}
}

func sameStamp(a, b fileStamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime())
}
