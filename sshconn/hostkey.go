package sshconn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/inputfile"
)

// HostKeyError reports a host key that was refused: unknown, changed
// (possible man-in-the-middle) or revoked. It wraps the
// *knownhosts.KeyError or *knownhosts.RevokedError behind it.
type HostKeyError struct {
	// Kind is failure.HostKeyUnknown, failure.HostKeyChanged or failure.HostKeyRevoked.
	Kind failure.Kind
	// Addr is the "host:port" dialled.
	Addr string
	// KeyType and Fingerprint describe the key the server presented
	// (SHA256:... as printed by ssh-keygen -l).
	KeyType, Fingerprint string
	// Known lists the recorded keys for the host as "TYPE SHA256:... (file:line)"
	// (failure.HostKeyChanged).
	Known []string
	// Line is the known_hosts line that would record the presented key
	// (empty for a certificate, which is trusted through its CA instead).
	Line string
	// CA describes the authority that signed a presented host certificate
	// as "TYPE SHA256:...", else "". An untrusted certificate (no matching
	// @cert-authority line, expired, or not valid for the host) is
	// failure.HostKeyUnknown with CA set; accept-new never records it.
	CA string
	// Err is the knownhosts error.
	Err error
}

// Error explains the refusal and, for an unknown host, how to add the key.
func (e *HostKeyError) Error() string {
	switch {
	case e.Kind == failure.HostKeyUnknown && e.CA != "":
		return fmt.Sprintf("sshconn: host certificate for %s (signed by CA %s) is not trusted: %v; "+
			"verify the CA, then trust it with a known_hosts line `@cert-authority <host pattern> <CA public key>`",
			e.Addr, e.CA, e.Err)
	case e.Kind == failure.HostKeyUnknown:
		host, port, _ := net.SplitHostPort(e.Addr)
		return fmt.Sprintf("sshconn: host key for %s is unknown (%s %s); verify it, then add it with "+
			"`ssh-keyscan -p %s %s >> ~/.ssh/known_hosts` or this known_hosts line: %s",
			e.Addr, e.KeyType, e.Fingerprint, port, host, e.Line)
	case e.Kind == failure.HostKeyChanged:
		return fmt.Sprintf("sshconn: HOST KEY CHANGED for %s, possible man-in-the-middle attack: "+
			"server presented %s %s, known_hosts has %s; connection refused",
			e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "))
	default:
		return fmt.Sprintf("sshconn: host key %s %s for %s is revoked in known_hosts", e.KeyType, e.Fingerprint, e.Addr)
	}
}

// Unwrap returns the knownhosts error.
func (e *HostKeyError) Unwrap() error { return e.Err }

// ErrorKind returns e.Kind.
func (e *HostKeyError) ErrorKind() failure.Kind { return e.Kind }

// KnownHostsWriter appends host keys to known_hosts files for
// HostKeyAcceptNew. It serialises writers in this process with a mutex and
// across processes with flock(2) on the file, re-reads the file under the
// lock so that concurrent first connections record a host once, and never
// replaces or removes a line. The zero value is ready to use.
type KnownHostsWriter struct {
	// mu serialises appends by this writer (flock covers other writers).
	mu sync.Mutex
}

// Add records key for hostname ("host:port") in file unless the files
// already know the host. It returns nil when the key is (now) recorded, or
// a *HostKeyError when another writer recorded a different key meanwhile.
// A file that is the null device (UserKnownHostsFile /dev/null) records
// nothing and is neither opened nor locked: the key is accepted for this
// connection only, as ssh accepts it.
func (w *KnownHostsWriter) Add(file string, files []string, hostname string, remote net.Addr, key ssh.PublicKey) error {
	return w.add(file, files, hostname, remote, key, false, FileLimits{})
}

// add is Add; with hash it records the host name hashed ("|1|salt|hash",
// as OpenSSH does with HashKnownHosts yes: Target.HashKnownHosts). The
// files are re-read within limits.
func (w *KnownHostsWriter) add(file string, files []string, hostname string, remote net.Addr, key ssh.PublicKey, hash bool, limits FileLimits) error {
	if inputfile.IsNull(file) {
		return nil // /dev/null: ssh's "remember nothing"; there is nothing to lock or record
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("sshconn: known_hosts %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sshconn: known_hosts %s: %w", file, err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("sshconn: lock known_hosts %s: %w", file, err)
	}
	defer unlockFile(f)
	return appendIfUnknownLocked(f, files, hostname, remote, key, hash, limits)
}

// appendIfUnknownLocked re-reads the files and appends key unless the host
// is now known; w.mu and the file lock must be held.
func appendIfUnknownLocked(f *os.File, files []string, hostname string, remote net.Addr, key ssh.PublicKey, hash bool, limits FileLimits) error {
	kh, err := loadKnownHosts(context.Background(), files, limits)
	if err != nil {
		return err
	}
	err = kh.check(hostname, remote, key)
	if !isUnknown(err) {
		return err
	}
	pattern := knownhosts.Normalize(hostname)
	if hash {
		pattern = knownhosts.HashHostname(pattern)
	}
	line := knownhosts.Line([]string{pattern}, key) + "\n"
	if needsNewline(f) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("sshconn: append known_hosts %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sshconn: sync known_hosts %s: %w", f.Name(), err)
	}
	return nil
}

func needsNewline(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false
	}
	b := make([]byte, 1)
	_, err = f.ReadAt(b, st.Size()-1)
	return err == nil && b[0] != '\n'
}

func isUnknown(err error) bool {
	var he *HostKeyError
	return errors.As(err, &he) && he.Kind == failure.HostKeyUnknown && he.CA == ""
}

// knownHosts is a parsed set of known_hosts files.
type knownHosts struct {
	cb    ssh.HostKeyCallback // nil when no file exists
	lines map[string][]string // the lines of each file read, by path
}

// loadKnownHosts reads the files that exist, each within lim; missing
// files count as empty. x/crypto's knownhosts reads only named files, so
// each file's bytes, once read with bounds, are handed to it as an
// in-memory file (memFile) and its name mapped back in what it reports.
func loadKnownHosts(ctx context.Context, files []string, lim FileLimits) (*knownHosts, error) {
	kh := &knownHosts{lines: map[string][]string{}}
	var names []string
	real := map[string]string{}
	for _, f := range files {
		data, err := readBounded(ctx, f, lim, DefaultKnownHostsMaxBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, &ConfigError{Key: f, Err: fmt.Errorf("known_hosts: %w", err)}
		}
		if _, dup := kh.lines[f]; dup {
			continue
		}
		kh.lines[f] = strings.Split(string(data), "\n")
		name, release, err := memFile(data)
		if err != nil {
			return nil, fmt.Errorf("sshconn: known_hosts %s: %w", f, err)
		}
		defer release()
		names = append(names, name)
		real[name] = f
	}
	if len(names) == 0 {
		return kh, nil
	}
	cb, err := knownhosts.New(names...)
	if err != nil {
		msg := err.Error()
		for name, f := range real {
			msg = strings.ReplaceAll(msg, name, f)
		}
		return nil, &ConfigError{Key: strings.Join(files, ","), Err: errors.New(msg)}
	}
	kh.cb = renameKnownKeys(cb, real)
	return kh, nil
}

// renameKnownKeys maps the file names knownhosts reports back to the
// files read.
func renameKnownKeys(cb ssh.HostKeyCallback, real map[string]string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var keyErr *knownhosts.KeyError
		var revoked *knownhosts.RevokedError
		switch {
		case errors.As(err, &keyErr):
			want := make([]knownhosts.KnownKey, len(keyErr.Want))
			for i, k := range keyErr.Want {
				k.Filename = firstNonEmpty(real[k.Filename], k.Filename)
				want[i] = k
			}
			return &knownhosts.KeyError{Want: want}
		case errors.As(err, &revoked):
			r := revoked.Revoked
			r.Filename = firstNonEmpty(real[r.Filename], r.Filename)
			return &knownhosts.RevokedError{Revoked: r}
		}
		return err
	}
}

// check verifies key and converts knownhosts errors into *HostKeyError.
// Recorded @cert-authority keys do not count as "known keys" for a server
// that presents a plain key: such a host is unknown, as in OpenSSH.
func (kh *knownHosts) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if kh.cb == nil {
		return newHostKeyError(failure.HostKeyUnknown, hostname, key, nil, &knownhosts.KeyError{})
	}
	err := kh.cb(hostname, remote, key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return newHostKeyError(failure.HostKeyRevoked, hostname, key, nil, err)
	case errors.As(err, &keyErr):
		return kh.keyError(hostname, key, keyErr)
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		return kh.certError(hostname, remote, cert, err)
	}
	return fmt.Errorf("sshconn: host key for %s: %w", hostname, err)
}

// certError classifies a refused host certificate. x/crypto's CertChecker
// reports a revoked or untrusted certificate with untyped errors, so
// revocation is looked up again by key: the CA's key or the certificate's
// own key on an @revoked line makes it failure.HostKeyRevoked; anything else
// (no @cert-authority for the host, expired, wrong principal) leaves the
// host's identity unknown: failure.HostKeyUnknown with CA set.
func (kh *knownHosts) certError(hostname string, remote net.Addr, cert *ssh.Certificate, err error) error {
	var revoked *knownhosts.RevokedError
	for _, k := range []ssh.PublicKey{cert.SignatureKey, cert.Key} {
		if errors.As(kh.cb(hostname, remote, k), &revoked) {
			return newHostKeyError(failure.HostKeyRevoked, hostname, k, nil, err)
		}
	}
	e := newHostKeyError(failure.HostKeyUnknown, hostname, cert, nil, err)
	e.CA = cert.SignatureKey.Type() + " " + ssh.FingerprintSHA256(cert.SignatureKey)
	e.Line = ""
	return e
}

func (kh *knownHosts) keyError(hostname string, key ssh.PublicKey, keyErr *knownhosts.KeyError) error {
	plain, _ := kh.splitWant(keyErr.Want)
	if len(plain) == 0 {
		return newHostKeyError(failure.HostKeyUnknown, hostname, key, nil, keyErr)
	}
	return newHostKeyError(failure.HostKeyChanged, hostname, key, plain, keyErr)
}

// splitWant separates recorded host keys from @cert-authority keys by
// reading the marker on each KnownKey's line.
func (kh *knownHosts) splitWant(want []knownhosts.KnownKey) (plain, cas []knownhosts.KnownKey) {
	for _, k := range want {
		ls := kh.lines[k.Filename]
		if k.Line-1 < len(ls) && strings.HasPrefix(strings.TrimSpace(ls[k.Line-1]), "@cert-authority") {
			cas = append(cas, k)
		} else {
			plain = append(plain, k)
		}
	}
	return plain, cas
}

func newHostKeyError(kind failure.Kind, hostname string, key ssh.PublicKey, known []knownhosts.KnownKey, err error) *HostKeyError {
	e := &HostKeyError{
		Kind: kind, Addr: hostname, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key),
		Line: knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key), Err: err,
	}
	for _, k := range known {
		e.Known = append(e.Known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
	}
	return e
}

// algorithms returns the HostKeyAlgorithms to offer for hostname, derived
// from the recorded keys (golang/go#29286): it probes the callback with a
// throwaway key and reads KeyError.Want. nil means "x/crypto's defaults".
func (kh *knownHosts) algorithms(hostname string) []string {
	if kh.cb == nil {
		return nil
	}
	probe, err := throwawayKey()
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(kh.cb(hostname, probeAddr, probe), &keyErr) || len(keyErr.Want) == 0 {
		return nil
	}
	plain, cas := kh.splitWant(keyErr.Want)
	var algos []string
	if len(cas) > 0 {
		algos = append(algos, certAlgos...)
	}
	for _, k := range plain {
		algos = appendUnique(algos, algosFor(k.Key.Type())...)
	}
	return algos
}

var probeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}

var certAlgos = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// algosFor maps a recorded key type to the signature algorithms that can
// verify it: an RSA key accepts rsa-sha2-512 and rsa-sha2-256.
func algosFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{keyType}
}

func appendUnique(dst []string, v ...string) []string {
	for _, s := range v {
		if !contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func throwawayKey() (ssh.PublicKey, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

// hostKeyCheck is the host key callback of one hop of one dial. It records
// that verification ran (key exchange reached it) and its outcome, which
// dial uses to tell authentication failures from other handshake errors.
type hostKeyCheck struct {
	target Target
	kh     *knownHosts
	writer *KnownHostsWriter
	logger *slog.Logger
	limits FileLimits // bound the re-read of known_hosts before an append

	// mu guards verified and err; the callback runs on x/crypto's kex
	// goroutine while dial reads the results on its own.
	mu       sync.Mutex
	verified bool
	err      error
}

func (c *hostKeyCheck) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := c.verify(hostname, remote, key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified, c.err = err == nil, err
	return err
}

func (c *hostKeyCheck) result() (verified bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified, c.err
}

func (c *hostKeyCheck) verify(hostname string, remote net.Addr, key ssh.PublicKey) error {
	hostname = c.target.knownHostsName(hostname)
	if c.target.HostKey == HostKeyInsecure {
		c.logger.Warn("sshconn: host key NOT verified (insecure host key policy)",
			"target", c.target.String(), "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key))
		return nil
	}
	err := c.kh.check(hostname, remote, key)
	if c.target.HostKey != HostKeyAcceptNew || !isUnknown(err) || len(c.target.KnownHostsFiles) == 0 {
		return err
	}
	file := c.target.KnownHostsFiles[0]
	if err := c.writer.add(file, c.target.knownHostsFiles(), hostname, remote, key, c.target.HashKnownHosts, c.limits); err != nil {
		return err
	}
	c.logger.Warn("sshconn: permanently added host key to known_hosts (accept-new)",
		"host", hostname, "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key), "file", file)
	return nil
}

// HostKeyAlgorithms returns the host key algorithms a dial to addr
// ("host:port") offers, derived from the keys recorded for it in the
// known_hosts files: certificate algorithms first when an @cert-authority
// line matches, ssh-rsa as rsa-sha2-512 and rsa-sha2-256. nil means the
// host is not recorded and x/crypto's defaults apply.
func HostKeyAlgorithms(knownHostsFiles []string, addr string) ([]string, error) {
	kh, err := loadKnownHosts(context.Background(), knownHostsFiles, FileLimits{})
	if err != nil {
		return nil, err
	}
	return kh.algorithms(addr), nil
}
