package inputfiletest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Files are the paths Make creates.
type Files struct {
	FIFO      string // a named pipe
	FIFOLink  string // a symbolic link to FIFO
	ZeroLink  string // a symbolic link to /dev/zero
	Oversized string // a regular file one byte over the limit
}

// Make creates in dir the four files a bounded read must refuse, named
// "fifo", "fifo-link", "zero-link" and "oversized", each followed by ext
// (".yaml", ".json": a reader that picks its format by extension gets
// that far). The oversized file is prefix padded with spaces to limit+1
// bytes, as Oversized makes it.
func Make(t testing.TB, dir, ext, prefix string, limit int) Files {
	t.Helper()
	f := Files{
		FIFO:      FIFO(t, filepath.Join(dir, "fifo"+ext)),
		FIFOLink:  filepath.Join(dir, "fifo-link"+ext),
		ZeroLink:  ZeroLink(t, filepath.Join(dir, "zero-link"+ext)),
		Oversized: Oversized(t, filepath.Join(dir, "oversized"+ext), prefix, limit),
	}
	if err := os.Symlink(f.FIFO, f.FIFOLink); err != nil {
		t.Fatal(err)
	}
	return f
}

// FIFO makes a named pipe at path and returns path.
func FIFO(t testing.TB, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ZeroLink makes a symbolic link to /dev/zero at path and returns path.
func ZeroLink(t testing.TB, path string) string {
	t.Helper()
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Oversized writes a regular file at path of limit+1 bytes: prefix, then
// spaces (trailing white space in JSON, YAML and ssh_config, so a reader
// given a higher limit parses prefix alone). It returns path. A prefix
// longer than limit is written whole.
func Oversized(t testing.TB, path, prefix string, limit int) string {
	t.Helper()
	data := prefix + strings.Repeat(" ", max(limit+1-len(prefix), 0))
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
