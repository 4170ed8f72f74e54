package inputfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Default bounds of Limits fields left zero.
const (
	// DefaultMaxBytes is the size cap of a read whose Limits.MaxBytes is zero.
	DefaultMaxBytes = 4 << 20
	// DefaultTimeout bounds a read whose Limits.Timeout is zero.
	DefaultTimeout = 5 * time.Second
)

// Limits bounds one read.
type Limits struct {
	// MaxBytes is the largest file accepted, in bytes. Zero means
	// DefaultMaxBytes; negative values are treated as zero.
	MaxBytes int64
	// Timeout bounds the whole read (checks, open, read). Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

func (l Limits) timeout() time.Duration {
	if l.Timeout <= 0 {
		return DefaultTimeout
	}
	return l.Timeout
}

// Sentinel causes of an *Error.
var (
	// ErrNotRegular: the path (after links) is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the limit.
	ErrTooLarge = errors.New("file too large")
	// ErrTimeout: the read did not finish within the limit.
	ErrTimeout = errors.New("read timed out")
)

// Error is a failed read: the path as given and the cause.
type Error struct {
	// Path is the path as the caller gave it.
	Path string
	// Err is the cause: ErrNotRegular, ErrTooLarge or ErrTimeout wrapped
	// with details, or the operating system's error.
	Err error
}

// Error returns "read PATH: cause".
func (e *Error) Error() string { return "read " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Read returns the contents of the regular file at path within limits.
// See the package documentation for the checks it makes.
func Read(path string, limits Limits) ([]byte, error) {
	return ReadContext(context.Background(), path, limits)
}

// ReadContext is Read that also ends when ctx does (with ctx's error).
func ReadContext(ctx context.Context, path string, limits Limits) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1) // buffered: an abandoned read still ends
	go func() {
		data, err := read(path, limits.maxBytes())
		done <- result{data, err}
	}()
	timer := time.NewTimer(limits.timeout())
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, &Error{Path: path, Err: r.err}
		}
		return r.data, nil
	case <-timer.C:
		return nil, &Error{Path: path, Err: fmt.Errorf("%w after %s", ErrTimeout, limits.timeout())}
	case <-ctx.Done():
		return nil, &Error{Path: path, Err: ctx.Err()}
	}
}

func read(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if isDevNull(fi) {
		return []byte{}, nil
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, fi.Size(), max)
	}
	// Size the buffer from the file, plus one byte to see growth.
	buf := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			// The file grew (or reported size 0, as /proc files do):
			// grow geometrically, never past max+1.
			next := min(int64(cap(buf))*2+512, max+1)
			buf = append(make([]byte, 0, next), buf...)
		}
	}
}

// unwrapPathError drops the *fs.PathError layer (Error names the path).
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// IsNull reports whether path names the null device (os.DevNull, or a
// link to it), which Read reads as empty. A writer uses it to record
// nothing where ssh would write into /dev/null, without opening the device
// (an flock on it would be shared by every process on the machine).
func IsNull(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && isDevNull(fi)
}

// isDevNull reports whether fi is the null device (os.DevNull, or a link
// to it), which reads as empty: "/dev/null" is how ssh_config, known_hosts
// settings and command lines say "no file".
func isDevNull(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}

func checkRegular(fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	return fmt.Errorf("%w (%s)", ErrNotRegular, describe(m))
}

func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "mode " + m.String()
	}
}
