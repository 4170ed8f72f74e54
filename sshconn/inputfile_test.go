package sshconn_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
	"github.com/sshpool/sshpool/sshconn"
)

// badInput makes path a FIFO, a link to /dev/zero, or a file one byte
// over limit, and returns the error each must produce.
func badInput(t *testing.T, kind, path string, limit int64) error {
	t.Helper()
	switch kind {
	case "fifo":
		inputfiletest.FIFO(t, path)
		return inputfile.ErrNotRegular
	case "devzero":
		inputfiletest.ZeroLink(t, path)
		return inputfile.ErrNotRegular
	}
	inputfiletest.Oversized(t, path, "", int(limit))
	return inputfile.ErrTooLarge
}

// TestBoundedReads: every file sshconn reads from outside (ssh_config
// and its Includes, known_hosts user and global, identity files and their
// certificates) fails fast, with an error naming the file, when it is a
// FIFO, /dev/zero or larger than its limit; none hangs.
func TestBoundedReads(t *testing.T) {
	e := newEnv(t)
	small := sshconn.FileLimits{MaxBytes: 4096, Timeout: 2 * time.Second}
	readers := []struct {
		name  string
		limit int64
		// try points the reader at path and returns its error.
		try func(t *testing.T, path string) error
	}{
		{"ssh_config", sshconn.DefaultConfigMaxBytes, func(t *testing.T, path string) error {
			_, err := (&sshconn.SSHConfig{SystemPath: "none", Path: path}).Resolve(context.Background(), "web")
			return err
		}},
		{"Include", sshconn.DefaultConfigMaxBytes, func(t *testing.T, path string) error {
			cfg := writeConfig(t, "Host web\n  Include "+path+"\n")
			_, err := (&sshconn.SSHConfig{SystemPath: "none", Path: cfg}).Resolve(context.Background(), "web")
			return err
		}},
		{"system ssh_config", sshconn.DefaultConfigMaxBytes, func(t *testing.T, path string) error {
			_, err := (&sshconn.SSHConfig{SystemPath: path, Path: filepath.Join(t.TempDir(), "none")}).Resolve(context.Background(), "web")
			return err
		}},
		{"known_hosts", small.MaxBytes, func(t *testing.T, path string) error {
			tgt := e.target()
			tgt.KnownHostsFiles = []string{path}
			_, err := dialTarget(t, tgt, sshconn.WithKnownHostsLimits(small))
			return err
		}},
		{"global known_hosts", small.MaxBytes, func(t *testing.T, path string) error {
			tgt := e.target()
			tgt.GlobalKnownHostsFiles = []string{path}
			_, err := dialTarget(t, tgt, sshconn.WithKnownHostsLimits(small))
			return err
		}},
		{"identity file", sshconn.DefaultIdentityMaxBytes, func(t *testing.T, path string) error {
			tgt := e.target()
			tgt.Auth.IdentityFiles = []string{path}
			_, err := dialTarget(t, tgt)
			return err
		}},
		{"identity -cert.pub", small.MaxBytes, func(t *testing.T, path string) error {
			_, priv := newKey(t)
			key := writePlainKey(t, priv)
			if err := os.Rename(path, key+"-cert.pub"); err != nil {
				t.Fatal(err)
			}
			tgt := e.target()
			tgt.Auth.IdentityFiles = []string{key}
			_, err := dialTarget(t, tgt, sshconn.WithIdentityLimits(small))
			return err
		}},
		{"CertificateFile", small.MaxBytes, func(t *testing.T, path string) error {
			tgt := e.target()
			tgt.Auth.CertificateFiles = []string{path}
			_, err := dialTarget(t, tgt, sshconn.WithIdentityLimits(small))
			return err
		}},
	}
	for _, r := range readers {
		for _, kind := range []string{"fifo", "devzero", "oversized"} {
			t.Run(r.name+"/"+kind, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "input")
				want := badInput(t, kind, path, r.limit)
				start := time.Now()
				err := r.try(t, path)
				if !errors.Is(err, want) || failure.Classify(err) != failure.Config {
					t.Fatalf("err = %v (kind %v), want %v as a config error", err, failure.Classify(err), want)
				}
				if !strings.Contains(err.Error(), filepath.Dir(path)) && !strings.Contains(err.Error(), "-cert.pub: read ") {
					t.Errorf("error %q does not name the file", err)
				}
				if d := time.Since(start); d > promptly {
					t.Errorf("took %v", d)
				}
			})
		}
	}
}

// TestConfigErrorsCutLongInput: an ssh_config error names the file and
// line but never echoes a long keyword or argument whole (a 900 KiB
// keyword was quoted in full): it is cut to a short prefix with its length.
// Short input is still quoted as written.
func TestConfigErrorsCutLongInput(t *testing.T) {
	long := strings.Repeat("k", 900<<10)
	for name, body := range map[string]string{
		"keyword":      long + " yes\n",
		"HostName":     "Host web\n  HostName " + long + "%z\n",
		"Port":         "Host web\n  Port " + long + "\n",
		"ProxyJump":    "Host web\n  ProxyJump " + long + "@@\n",
		"IdentityFile": "Host web\n  IdentityFile " + long + "%z\n",
		"Match":        "Match " + long + "\n",
		"Include":      "Include /" + long + "[\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, body)
			_, err := (&sshconn.SSHConfig{SystemPath: "none", Path: path}).Resolve(context.Background(), "web")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if len(msg) > 1024 || !strings.Contains(msg, path+" line ") || !strings.Contains(msg, strings.Repeat("k", 40)) ||
				!strings.Contains(msg, "bytes)") {
				t.Errorf("error (%d bytes) %.300q: want the file and line and a cut prefix of the input", len(msg), msg)
			}
		})
	}
	_, err := (&sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, "Host web\n  Port 70000x\n")}).Resolve(context.Background(), "web")
	if err == nil || !strings.Contains(err.Error(), `Port "70000x"`) {
		t.Errorf("short input: %v; want it quoted whole", err)
	}
}
