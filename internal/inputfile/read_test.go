package inputfile_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/internal/inputfile/inputfiletest"
)

func TestReadRegularFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := os.WriteFile(path, []byte(`{"flags":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		got, err := inputfile.Read(p, inputfile.Limits{})
		if err != nil || string(got) != `{"flags":{}}` {
			t.Errorf("Read(%s) = %q, %v", p, got, err)
		}
	}
}

// TestReadDevNullIsEmpty: the null device, or a link to it, reads as an
// empty file, while other character devices stay refused
// (TestReadRefusesWhatIsNotARegularFile).
func TestReadDevNullIsEmpty(t *testing.T) {
	link := filepath.Join(t.TempDir(), "null-link")
	if err := os.Symlink(os.DevNull, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{os.DevNull, link} {
		got, err := inputfile.Read(p, inputfile.Limits{})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Read(%s) = %q (nil %t), %v; want empty, no error", p, got, got == nil, err)
		}
	}
	regular := filepath.Join(t.TempDir(), "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{os.DevNull: true, link: true, "/dev/zero": false, regular: false, regular + ".missing": false} {
		if got := inputfile.IsNull(p); got != want {
			t.Errorf("IsNull(%s) = %t, want %t", p, got, want)
		}
	}
}

func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	f := inputfiletest.Make(t, dir, "", "", 0)
	fifo, fifoLink, zeroLink := f.FIFO, f.FIFOLink, f.ZeroLink
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct{ path, what string }{
		{fifo, "a named pipe"},
		{fifoLink, "a named pipe"},
		{"/dev/zero", "a character device"},
		{zeroLink, "a character device"},
		{dir, "a directory"},
		{sock, "a socket"},
	} {
		start := time.Now()
		_, err := inputfile.Read(tc.path, inputfile.Limits{Timeout: time.Minute})
		if !errors.Is(err, inputfile.ErrNotRegular) {
			t.Errorf("Read(%s) error = %v, want ErrNotRegular", tc.path, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.what) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Read(%s) error %q does not name the path and %q", tc.path, err, tc.what)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Read(%s) took %s: it waited on the file", tc.path, d)
		}
	}
}

func TestReadSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, make([]byte, 1001), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := inputfile.Read(path, inputfile.Limits{MaxBytes: 1000}); !errors.Is(err, inputfile.ErrTooLarge) ||
		!strings.Contains(err.Error(), "1001 bytes, limit 1000") {
		t.Errorf("error = %v, want ErrTooLarge naming size and limit", err)
	}
	got, err := inputfile.Read(path, inputfile.Limits{MaxBytes: 1001})
	if err != nil || len(got) != 1001 {
		t.Errorf("at the limit: %d bytes, %v", len(got), err)
	}
}

// Files under /proc report size 0 and are read to their end, still bounded.
func TestReadSizeZeroReportingFile(t *testing.T) {
	got, err := inputfile.Read("/proc/self/status", inputfile.Limits{})
	if err != nil || !strings.Contains(string(got), "Name:") {
		t.Fatalf("Read(/proc/self/status) = %d bytes, %v", len(got), err)
	}
	if _, err := inputfile.Read("/proc/self/status", inputfile.Limits{MaxBytes: 16}); !errors.Is(err, inputfile.ErrTooLarge) {
		t.Errorf("16-byte limit: error = %v, want ErrTooLarge", err)
	}
}

func TestReadMissingAndCancelled(t *testing.T) {
	_, err := inputfile.Read(filepath.Join(t.TempDir(), "none"), inputfile.Limits{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	var e *inputfile.Error
	if !errors.As(err, &e) || !strings.HasSuffix(e.Path, "none") {
		t.Errorf("missing file: %v is not an *Error naming the path", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "f")
	_ = os.WriteFile(path, nil, 0o600)
	// A cancelled context may lose the race with a fast read; either the
	// read or context.Canceled, never anything else.
	if _, err := inputfile.ReadContext(ctx, path, inputfile.Limits{}); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"kill-switch", 0, `"kill-switch"`},
		{"tab\there", 0, `"tab\there"`},
		{"\xff\x00", 0, `"\xff\x00"`},
		{"héllo wörld", 5, `"héllo"… (13 bytes)`},
		{long, 4, `"aaaa"… (10485760 bytes)`},
	} {
		if got := inputfile.Excerpt(tc.in, tc.n); got != tc.want {
			t.Errorf("Excerpt(%.20q, %d) = %s, want %s", tc.in, tc.n, got, tc.want)
		}
	}
}
