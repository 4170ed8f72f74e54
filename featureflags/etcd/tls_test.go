package etcd_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

// TestTLSFilesBounded: each PEM file of the etcd connection (CA,
// client certificate, key) is read bounded: a FIFO, a symlink to
// /dev/zero and a file over 1 MiB are refused at once, as a config error
// naming the field and the file.
func TestTLSFilesBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := inputfiletest.FIFO(t, filepath.Join(dir, "fifo.pem"))
	zero := inputfiletest.ZeroLink(t, filepath.Join(dir, "zero.pem"))
	big := inputfiletest.Oversized(t, filepath.Join(dir, "big.pem"), "", 1<<20)
	other := filepath.Join(dir, "other.pem") // never read: the certificate file fails first
	cert := filepath.Join(dir, "cert.pem")   // read, then the key file fails
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, field := range []struct {
		name string
		set  func(path string) etcd.TLSFiles
	}{
		{"TLS CA file", func(p string) etcd.TLSFiles { return etcd.TLSFiles{CAFile: p} }},
		{"TLS certificate file", func(p string) etcd.TLSFiles { return etcd.TLSFiles{CertFile: p, KeyFile: other} }},
		{"TLS key file", func(p string) etcd.TLSFiles { return etcd.TLSFiles{CertFile: cert, KeyFile: p} }},
	} {
		for path, want := range map[string]error{fifo: inputfile.ErrNotRegular, zero: inputfile.ErrNotRegular, big: inputfile.ErrTooLarge} {
			start := time.Now()
			_, err := field.set(path).Config()
			// The cause is in the message (the config error does not wrap it).
			if !errors.Is(err, etcd.ErrConfig) || !strings.Contains(err.Error(), want.Error()) ||
				!strings.Contains(err.Error(), field.name) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s %s: %v; want a config error naming the field, the file and %v", field.name, path, err, want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s %s: took %s", field.name, path, d)
			}
		}
	}
}
