package sshconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"golang.org/x/crypto/ssh"
)

// publicKeys returns the keys to offer, in order: the agent's (with
// IdentitiesOnly only those matching a configured identity), Signers, the
// identity files (each "<file>-cert.pub" before its key), each key offered
// once; every CertificateFile is offered just before the key it
// certifies. An encrypted identity file with no passphrase available is
// an *IdentityError unless the agent holds its key (ssh then signs with
// the agent's copy).
func publicKeys(ctx context.Context, a Auth, ag *agentHolder, lim FileLimits, logger *slog.Logger) ([]ssh.Signer, error) {
	agentKeys := ag.signers(ctx, a)
	files, pending, err := loadIdentities(ctx, a, lim)
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		if !hasKey(agentKeys, p.pub) {
			return nil, p.err
		}
	}
	if a.IdentitiesOnly {
		agentKeys = onlyConfigured(agentKeys, files, a.Signers, pending)
	}
	keys := dedupeKeys(append(append(agentKeys, a.Signers...), files...))
	return addCertificates(ctx, keys, a.CertificateFiles, lim, logger)
}

// pendingIdentity is an encrypted identity file whose passphrase is not
// available: its public key, and the error to report unless the agent
// holds the key.
type pendingIdentity struct {
	pub ssh.PublicKey
	err error
}

// loadIdentities parses every identity file of a (certificates first).
func loadIdentities(ctx context.Context, a Auth, lim FileLimits) ([]ssh.Signer, []pendingIdentity, error) {
	var out []ssh.Signer
	var pending []pendingIdentity
	load := func(f string, optional bool) error {
		s, err := loadIdentity(ctx, a, f, lim)
		var missing *ssh.PassphraseMissingError
		switch {
		case optional && errors.Is(err, fs.ErrNotExist):
		case errors.As(err, &missing):
			pub := missing.PublicKey
			if pub == nil {
				pub = readPublicKey(ctx, f+".pub", lim)
			}
			if pub == nil {
				return err
			}
			pending = append(pending, pendingIdentity{pub: pub, err: err})
		case err != nil:
			return err
		}
		out = append(out, s...)
		return nil
	}
	for _, f := range a.IdentityFiles {
		if err := load(f, false); err != nil {
			return nil, nil, err
		}
	}
	for _, f := range a.OptionalIdentityFiles {
		if err := load(f, true); err != nil {
			return nil, nil, err
		}
	}
	return out, pending, nil
}

// loadIdentity returns the signer of file, preceded by its certificate
// signer when "<file>-cert.pub" exists. Files are read within lim.
func loadIdentity(ctx context.Context, a Auth, file string, lim FileLimits) ([]ssh.Signer, error) {
	pemBytes, err := readBounded(ctx, file, lim, DefaultIdentityMaxBytes)
	if err != nil {
		return nil, &IdentityError{File: file, Err: err}
	}
	signer, err := parseIdentity(ctx, a, file, pemBytes)
	if err != nil {
		return nil, &IdentityError{File: file, Err: err}
	}
	cert, err := loadCert(ctx, file+"-cert.pub", lim)
	if err != nil {
		return nil, &IdentityError{File: file + "-cert.pub", Err: err}
	}
	if cert == nil {
		return []ssh.Signer{signer}, nil
	}
	cs, err := ssh.NewCertSigner(cert, signer)
	if err != nil {
		return nil, &IdentityError{File: file + "-cert.pub", Err: err}
	}
	return []ssh.Signer{cs, signer}, nil
}

func parseIdentity(ctx context.Context, a Auth, file string, pemBytes []byte) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return signer, err
	}
	pass, ok, err := passphrase(ctx, a, file)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("encrypted and no passphrase available (set Auth.Passphrase%s): %w",
			envHint(a.PassphraseEnv), missing)
	}
	return ssh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(pass.Reveal()))
}

func envHint(env string) string {
	if env == "" {
		return " or Auth.PassphraseEnv"
	}
	return " or $" + env
}

// passphrase asks a.Passphrase, then a.PassphraseEnv; ok is false when
// neither has one.
func passphrase(ctx context.Context, a Auth, file string) (Secret, bool, error) {
	if a.Passphrase != nil {
		s, err := a.Passphrase(ctx, file)
		if err != nil {
			return Secret{}, false, fmt.Errorf("passphrase source: %w", err)
		}
		if !s.IsZero() {
			return s, true, nil
		}
	}
	if a.PassphraseEnv != "" {
		if v, ok := os.LookupEnv(a.PassphraseEnv); ok {
			return NewSecret(v), true, nil
		}
	}
	return Secret{}, false, nil
}

// loadCert returns the certificate in path, or nil when path does not
// exist.
func loadCert(ctx context.Context, path string, lim FileLimits) (*ssh.Certificate, error) {
	b, err := readBounded(ctx, path, lim, DefaultIdentityMaxBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, err
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, errors.New("not an OpenSSH certificate")
	}
	return cert, nil
}

// readPublicKey returns the public key in path, or nil.
func readPublicKey(ctx context.Context, path string, lim FileLimits) ssh.PublicKey {
	b, err := readBounded(ctx, path, lim, DefaultIdentityMaxBytes)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return pub
}

// addCertificates inserts a signer for each certificate file just before
// the key it certifies; a certificate whose key is not among keys is
// skipped with a warning, as ssh skips it.
func addCertificates(ctx context.Context, keys []ssh.Signer, files []string, lim FileLimits, logger *slog.Logger) ([]ssh.Signer, error) {
	for _, f := range files {
		cert, err := loadCert(ctx, f, lim)
		if err == nil && cert == nil {
			err = fs.ErrNotExist
		}
		if err != nil {
			return nil, &IdentityError{File: f, Err: err}
		}
		i := indexOfKey(keys, cert.Key)
		if i < 0 {
			logger.Warn("sshconn: certificate skipped: no identity file or agent key matches it", "file", f)
			continue
		}
		cs, err := ssh.NewCertSigner(cert, keys[i])
		if err != nil {
			return nil, &IdentityError{File: f, Err: err}
		}
		keys = append(keys[:i], append([]ssh.Signer{cs}, keys[i:]...)...)
	}
	return keys, nil
}

// onlyConfigured keeps the agent keys that match an identity file, an
// in-memory signer or a pending (encrypted) identity.
func onlyConfigured(agentKeys, files, signers []ssh.Signer, pending []pendingIdentity) []ssh.Signer {
	var configured []ssh.PublicKey
	for _, s := range append(append([]ssh.Signer(nil), files...), signers...) {
		configured = append(configured, baseKey(s.PublicKey()))
	}
	for _, p := range pending {
		configured = append(configured, p.pub)
	}
	var out []ssh.Signer
	for _, k := range agentKeys {
		for _, c := range configured {
			if sameKey(baseKey(k.PublicKey()), c) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// dedupeKeys drops a signer whose public key an earlier one has.
func dedupeKeys(keys []ssh.Signer) []ssh.Signer {
	out := keys[:0:0]
	for _, k := range keys {
		if indexOfSigner(out, k.PublicKey()) < 0 {
			out = append(out, k)
		}
	}
	return out
}

// baseKey is the key a certificate certifies, or key itself.
func baseKey(key ssh.PublicKey) ssh.PublicKey {
	if c, ok := key.(*ssh.Certificate); ok {
		return c.Key
	}
	return key
}

func sameKey(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

func hasKey(keys []ssh.Signer, pub ssh.PublicKey) bool { return indexOfSigner(keys, pub) >= 0 }

// indexOfSigner returns the index of the signer whose public key is pub.
func indexOfSigner(keys []ssh.Signer, pub ssh.PublicKey) int {
	for i, k := range keys {
		if sameKey(k.PublicKey(), pub) {
			return i
		}
	}
	return -1
}

// indexOfKey returns the index of the plain (not certificate) signer
// whose key is pub.
func indexOfKey(keys []ssh.Signer, pub ssh.PublicKey) int {
	for i, k := range keys {
		if _, isCert := k.PublicKey().(*ssh.Certificate); !isCert && sameKey(k.PublicKey(), pub) {
			return i
		}
	}
	return -1
}
