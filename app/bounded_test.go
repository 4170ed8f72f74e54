package app_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/app"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

// TestLoadConfigRefusesHostileFiles: the configuration file is read
// bounded. A FIFO, a symlink to one, a symlink to /dev/zero and a file
// over the cap are refused at once with an error naming the file and the
// reason (a FIFO blocked the load for ever, /dev/zero grew memory until
// the process was killed); LoadOptions.MaxBytes moves the cap.
func TestLoadConfigRefusesHostileFiles(t *testing.T) {
	f := inputfiletest.Make(t, t.TempDir(), ".yaml", "pool:\n  max_connections: 7\n", app.DefaultConfigMaxBytes)
	fifo, fifoLink, zeroLink, big := f.FIFO, f.FIFOLink, f.ZeroLink, f.Oversized
	for _, tc := range []struct {
		path string
		want error
		what string
	}{
		{fifo, inputfile.ErrNotRegular, "a named pipe"},
		{fifoLink, inputfile.ErrNotRegular, "a named pipe"},
		{zeroLink, inputfile.ErrNotRegular, "a character device"},
		{big, inputfile.ErrTooLarge, "limit 1048576"},
	} {
		start := time.Now()
		_, err := app.LoadWith(app.LoadOptions{Path: tc.path})
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "config: read "+tc.path+": ") || !strings.Contains(err.Error(), tc.what) {
			t.Errorf("%s: %v; want %v naming the file and %q", tc.path, err, tc.want, tc.what)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %s: the load waited on the file", tc.path, d)
		}
	}
	c, err := app.LoadWith(app.LoadOptions{Path: big, MaxBytes: 2 * app.DefaultConfigMaxBytes})
	if err != nil || c.Pool.MaxConnections != 7 {
		t.Errorf("with MaxBytes raised: %v, max_connections %d", err, c.Pool.MaxConnections)
	}
	if _, err := app.LoadWith(app.LoadOptions{Path: writeFile(t, "c.yaml", "pool:\n  max_connections: 7\n"), MaxBytes: 10}); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("with MaxBytes 10: %v; want ErrTooLarge", err)
	}
}

// TestReloadRefusesHostileFiles: a hostile file renamed over the
// configuration file makes a reload (SIGHUP) fail at once, and the
// configuration in force stays.
func TestReloadRefusesHostileFiles(t *testing.T) {
	path := writeFile(t, "c.yaml", "pool:\n  max_connections: 7\n")
	opts := app.LoadOptions{Path: path}
	c, err := app.LoadWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := app.NewConfigStore(c, opts)
	tmp := path + ".new"
	for name, make := range map[string]func(){
		"fifo":      func() { inputfiletest.FIFO(t, tmp) },
		"dev/zero":  func() { inputfiletest.ZeroLink(t, tmp) },
		"oversized": func() { inputfiletest.Oversized(t, tmp, "", app.DefaultConfigMaxBytes) },
	} {
		make()
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Reload = %v; want an error naming the file", name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: Reload took %s", name, d)
		}
		if s.Current().Pool.MaxConnections != 7 {
			t.Errorf("%s: the configuration in force changed: %+v", name, s.Current().Pool)
		}
	}
}

// TestConfigErrorsCutLongKeys: a problem never repeats a long key whole
// (a JSON file's 900 KiB unknown key was echoed in full): every segment
// over 64 bytes is cut to a quoted prefix with its length. Short keys are
// reported as written.
func TestConfigErrorsCutLongKeys(t *testing.T) {
	long := strings.Repeat("k", 900<<10)
	for name, body := range map[string]string{
		"unknown key":     `{"pool": {"` + long + `": 1}}`,
		"unknown target":  `{"targets": {"` + long + `": {"host": ""}}}`,
		"unknown section": `{"` + long + `": {}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := app.LoadWith(app.LoadOptions{Path: writeFile(t, "c.json", body)})
			var ce *app.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %.200v; want a *ConfigError", err)
			}
			msg := err.Error()
			if len(msg) > 1024 || !strings.Contains(msg, `"`+strings.Repeat("k", 40)+`"… (921600 bytes)`) {
				t.Errorf("error (%d bytes) %.300q: want the key cut to a prefix with its length", len(msg), msg)
			}
			for _, p := range ce.Problems {
				if len(p.Key) > 1024 {
					t.Errorf("Problem.Key holds %d bytes", len(p.Key))
				}
			}
		})
	}
	_, err := app.LoadWith(app.LoadOptions{Path: writeFile(t, "c.yaml", "pool:\n  max_conns: 1\n")})
	if err == nil || !strings.Contains(err.Error(), "pool.max_conns = 1, unknown key") {
		t.Errorf("short key: %v", err)
	}
}
