package featureflags_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

// hostileFiles makes, in dir, the files a flag path must never hang on or
// read whole: a FIFO, a symlink to a FIFO, a symlink to /dev/zero and a
// file over limit bytes. It returns name → path and the error each gives.
func hostileFiles(t *testing.T, dir string, limit int) map[string]struct {
	path string
	want error
} {
	t.Helper()
	f := inputfiletest.Make(t, dir, ".json", `{"flags": {}}`, limit)
	return map[string]struct {
		path string
		want error
	}{
		"fifo":              {f.FIFO, inputfile.ErrNotRegular},
		"symlink to fifo":   {f.FIFOLink, inputfile.ErrNotRegular},
		"symlink /dev/zero": {f.ZeroLink, inputfile.ErrNotRegular},
		"oversized":         {f.Oversized, inputfile.ErrTooLarge},
	}
}

// quick bounds how long a refused read may take: it must not wait on the
// file (the read timeout is a minute in these tests).
const quick = 10 * time.Second

// TestNewFileProviderRefusesHostileFiles: construction fails fast with an
// error naming the path and the reason.
func TestNewFileProviderRefusesHostileFiles(t *testing.T) {
	const limit = 4096
	for name, f := range hostileFiles(t, t.TempDir(), limit) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := featureflags.NewFileProvider(f.path, featureflags.WithMaxDocumentBytes(limit),
				featureflags.WithReadLimits(0, time.Minute))
			if !errors.Is(err, f.want) || !strings.Contains(err.Error(), f.path) ||
				!strings.HasPrefix(err.Error(), "featureflags: flag file: ") {
				t.Errorf("error %v, want %v naming %s", err, f.want, f.path)
			}
			if d := time.Since(start); d > quick {
				t.Errorf("took %s", d)
			}
		})
	}
	// The default cap is DefaultMaxDocumentBytes.
	big := writeFile(t, t.TempDir(), "big.json", `{"flags": {}}`+strings.Repeat(" ", featureflags.DefaultMaxDocumentBytes))
	if _, err := featureflags.NewFileProvider(big); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("a file over the default cap: %v", err)
	}
}

// TestReloadRefusesHostileFiles: each hostile file renamed over the flag
// file is refused by Reload, fast, the flags stay, and a later good write
// takes effect.
func TestReloadRefusesHostileFiles(t *testing.T) {
	const limit = 4096
	dir := t.TempDir()
	hostile := hostileFiles(t, t.TempDir(), limit)
	path := writeFile(t, dir, "flags.json", killSwitchFile(false))
	p := newProvider(t, path, featureflags.WithMaxDocumentBytes(limit), featureflags.WithReadLimits(0, time.Minute))
	on := false
	for name, f := range hostile {
		renameOver(t, f.path, path)
		start := time.Now()
		if err := p.Reload(); !errors.Is(err, f.want) {
			t.Errorf("%s: Reload = %v, want %v", name, err, f.want)
		}
		if d := time.Since(start); d > quick {
			t.Errorf("%s: Reload took %s", name, d)
		}
		if killSwitch(p) != on {
			t.Errorf("%s: the flags changed", name)
		}
		on = !on
		replaceFile(t, path, killSwitchFile(on))
		must(t, p.Reload())
		if killSwitch(p) != on {
			t.Errorf("after %s: a good write did not take effect", name)
		}
	}
}

// TestWatchSurvivesHostileFiles: the watcher reports each hostile file
// (symlink to a FIFO, to /dev/zero, an oversized file) renamed over the
// flag file, keeps the flags, keeps watching, and applies the next good
// write: the kill switch works after each.
func TestWatchSurvivesHostileFiles(t *testing.T) {
	const limit = 4096
	hostile := hostileFiles(t, t.TempDir(), limit)
	p, path := startWatching(t, featureflags.WithMaxDocumentBytes(limit), featureflags.WithReadLimits(0, time.Minute))
	on := false
	for _, name := range []string{"symlink to fifo", "symlink /dev/zero", "oversized", "fifo"} {
		f := hostile[name]
		renameOver(t, f.path, path)
		ev := expectEvent(t, p, openfeature.ProviderError)
		if !strings.Contains(ev.Message, f.want.Error()) || !strings.Contains(ev.Message, path) {
			t.Errorf("%s: event %q, want it to say %q about %s", name, ev.Message, f.want, path)
		}
		if killSwitch(p) != on {
			t.Errorf("%s: the flags changed", name)
		}
		on = !on
		replaceFile(t, path, killSwitchFile(on))
		expectEvent(t, p, openfeature.ProviderReady)
		expectEvent(t, p, openfeature.ProviderConfigChange)
		if killSwitch(p) != on {
			t.Fatalf("after %s: the kill switch write did not take effect", name)
		}
	}
	if st := p.Stats(); st.ReloadErrors != 4 {
		t.Errorf("stats %+v", st)
	}
}

// renameOver moves a copy of src (a symlink is copied as a symlink, a FIFO
// is recreated) over dst by rename, as a deploy tool would.
func renameOver(t *testing.T, src, dst string) {
	t.Helper()
	tmp := dst + ".new"
	fi, err := os.Lstat(src)
	must(t, err)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		must(t, err)
		must(t, os.Symlink(target, tmp))
	case fi.Mode()&os.ModeNamedPipe != 0:
		inputfiletest.FIFO(t, tmp)
	default:
		data, err := os.ReadFile(src)
		must(t, err)
		must(t, os.WriteFile(tmp, data, 0o644))
	}
	must(t, os.Rename(tmp, dst))
}
