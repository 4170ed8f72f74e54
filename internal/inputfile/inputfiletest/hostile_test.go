package inputfiletest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

// TestMake: each file is what its field says, and inputfile.Read refuses
// it at once for that reason; the oversized file fits a limit one byte
// higher and holds the prefix.
func TestMake(t *testing.T) {
	const limit = 100
	dir := t.TempDir()
	f := inputfiletest.Make(t, dir, ".json", `{"flags": {}}`, limit)
	for path, want := range map[string]os.FileMode{
		f.FIFO: os.ModeNamedPipe, f.FIFOLink: os.ModeSymlink, f.ZeroLink: os.ModeSymlink, f.Oversized: 0,
	} {
		if filepath.Dir(path) != dir || filepath.Ext(path) != ".json" {
			t.Errorf("%s: not in %s with extension .json", path, dir)
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != want {
			t.Errorf("%s: %v, %v; want type %v", path, fi.Mode(), err, want)
		}
	}
	if got, _ := os.Readlink(f.FIFOLink); got != f.FIFO {
		t.Errorf("FIFOLink points to %q", got)
	}
	if got, _ := os.Readlink(f.ZeroLink); got != "/dev/zero" {
		t.Errorf("ZeroLink points to %q", got)
	}
	for path, want := range map[string]string{
		f.FIFO: "a named pipe", f.FIFOLink: "a named pipe", f.ZeroLink: "a character device", f.Oversized: "101 bytes, limit 100",
	} {
		start := time.Now()
		_, err := inputfile.Read(path, inputfile.Limits{MaxBytes: limit, Timeout: time.Minute})
		if !errors.Is(err, inputfile.ErrNotRegular) && !errors.Is(err, inputfile.ErrTooLarge) || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%s) = %v; want it refused as %q", path, err, want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Read(%s) took %s", path, d)
		}
	}
	got, err := inputfile.Read(f.Oversized, inputfile.Limits{MaxBytes: limit + 1})
	if err != nil || len(got) != limit+1 || !strings.HasPrefix(string(got), `{"flags": {}}`) || strings.TrimSpace(string(got)) != `{"flags": {}}` {
		t.Errorf("oversized file: %q, %v", got, err)
	}
}

// TestOversizedLongPrefix: a prefix over the limit is written whole.
func TestOversizedLongPrefix(t *testing.T) {
	path := inputfiletest.Oversized(t, filepath.Join(t.TempDir(), "big"), "0123456789", 4)
	if got, err := os.ReadFile(path); err != nil || string(got) != "0123456789" {
		t.Errorf("%q, %v", got, err)
	}
}
