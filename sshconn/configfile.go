package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sshpool/sshpool/internal/inputfile"
)

// FileLimits bounds one read of a file sshconn takes from outside
// (ssh_config and each file it includes, known_hosts, identity and
// certificate files). A read of something that is not a regular file
// after links (a named pipe, a device such as /dev/zero), of a file larger
// than MaxBytes, or that takes longer than Timeout fails with an error
// naming the file.
type FileLimits struct {
	// MaxBytes is the largest file accepted, in bytes; 0 means the
	// default of the kind of file (DefaultConfigMaxBytes,
	// DefaultKnownHostsMaxBytes, DefaultIdentityMaxBytes).
	MaxBytes int64
	// Timeout bounds one read; 0 means DefaultFileTimeout.
	Timeout time.Duration
}

// Defaults of FileLimits fields left zero.
const (
	// DefaultConfigMaxBytes caps ssh_config and each file it includes.
	DefaultConfigMaxBytes = 1 << 20
	// DefaultKnownHostsMaxBytes caps each known_hosts file (about 100,000
	// hosts).
	DefaultKnownHostsMaxBytes = 16 << 20
	// DefaultIdentityMaxBytes caps each identity, public key and
	// certificate file (an RSA 16384-bit key is about 12 KiB).
	DefaultIdentityMaxBytes = 256 << 10
	// DefaultFileTimeout bounds one read of any of them.
	DefaultFileTimeout = 5 * time.Second
)

// limits converts l to inputfile's, with def for a zero MaxBytes.
func (l FileLimits) limits(def int64) inputfile.Limits {
	max := l.MaxBytes
	if max <= 0 {
		max = def
	}
	return inputfile.Limits{MaxBytes: max, Timeout: orDefault(l.Timeout, DefaultFileTimeout)}
}

// readBounded reads path within l (def: the default size cap). A missing
// file is returned as an error wrapping fs.ErrNotExist.
func readBounded(ctx context.Context, path string, l FileLimits, def int64) ([]byte, error) {
	return inputfile.ReadContext(ctx, path, l.limits(def))
}

// Limits of the ssh_config reader, as in OpenSSH's readconf.c.
const (
	// maxIncludeDepth is READCONF_MAX_DEPTH.
	maxIncludeDepth = 16
	// maxConfigFiles bounds the files one resolution reads (an Include
	// glob can match any number of files).
	maxConfigFiles = 256
	// maxIdentityFiles is SSH_MAX_IDENTITY_FILES (and certificate files).
	maxIdentityFiles = 100
)

// cfgLine is one keyword line of an ssh_config file, split as ssh splits
// it.
type cfgLine struct {
	file    string
	line    int
	keyword string   // lower case
	args    []string // the arguments, unquoted, up to a '#' comment
	rest    string   // the raw text after the keyword (ProxyCommand, ProxyJump, Match)
}

// pos is "file line N", the way ssh names a line in its errors.
func (l cfgLine) pos() string { return fmt.Sprintf("%s line %d", l.file, l.line) }

// errorf returns an error naming the line.
func (l cfgLine) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", l.pos(), fmt.Sprintf(format, args...))
}

// parseConfig splits an ssh_config file into keyword lines. Like ssh, it
// strips trailing white space, skips empty lines and comments, separates
// the keyword from its arguments by white space or one '=', and splits
// the arguments honouring double and single quotes and backslash escapes;
// unbalanced quotes and a keyword without arguments are errors naming the
// line.
func parseConfig(file string, data []byte) ([]cfgLine, error) {
	var out []cfgLine
	for n, raw := range strings.Split(string(data), "\n") {
		l, ok, err := parseLine(file, n+1, raw)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, l)
		}
	}
	return out, nil
}

func parseLine(file string, n int, raw string) (cfgLine, bool, error) {
	l := cfgLine{file: file, line: n}
	s := strings.TrimRight(raw, " \t\r\n\f")
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return l, false, nil
	}
	end := strings.IndexAny(s, " \t=\"")
	if end < 0 {
		end = len(s)
	}
	l.keyword = strings.ToLower(s[:end])
	rest := strings.TrimLeft(s[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	if rest == "" {
		return l, false, l.errorf("no argument after keyword %q", l.keyword)
	}
	args, err := argvSplit(rest)
	if err != nil {
		return l, false, l.errorf("invalid quotes")
	}
	l.args, l.rest = args, rest
	return l, true, nil
}

// argvSplit splits s into arguments as OpenSSH's argv_split does: white
// space separates them, single and double quotes group, a backslash
// escapes a quote, a backslash and (outside quotes) a space, and a '#' at
// the start of an argument ends the line.
func argvSplit(s string) ([]string, error) {
	var args []string
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || quote == 0 && s[i+1] == ' '):
				i++
				arg.WriteByte(s[i])
				continue
			case quote == 0 && (c == ' ' || c == '\t'):
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				continue
			case quote != 0 && c == quote:
				quote = 0
				continue
			default:
				arg.WriteByte(c)
				continue
			}
			break
		}
		if quote != 0 {
			return nil, errors.New("invalid quotes")
		}
		args = append(args, arg.String())
	}
	return args, nil
}

// configReader reads the files of one resolution, each at most once, with
// bounds, checking owner and permissions as ssh does.
type configReader struct {
	ctx    context.Context
	limits FileLimits
	home   string
	cache  map[string][]cfgLine
	reads  int
}

// read returns the lines of file; missing is true when it does not exist.
// With checkPerm, a file writable by group or others, or owned by another
// user than root or the current one, is refused ("Bad owner or
// permissions"), as ssh refuses it.
func (c *configReader) read(file string, checkPerm bool) (lines []cfgLine, missing bool, err error) {
	if l, ok := c.cache[file]; ok {
		return l, false, nil
	}
	if c.reads++; c.reads > maxConfigFiles {
		return nil, false, fmt.Errorf("more than %d configuration files included", maxConfigFiles)
	}
	data, err := readBounded(c.ctx, file, c.limits, DefaultConfigMaxBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if checkPerm {
		if err := checkConfigPerm(file); err != nil {
			return nil, false, err
		}
	}
	if lines, err = parseConfig(file, data); err != nil {
		return nil, false, err
	}
	if c.cache == nil {
		c.cache = map[string][]cfgLine{}
	}
	c.cache[file] = lines
	return lines, false, nil
}

func checkConfigPerm(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if (st.Uid != 0 && int(st.Uid) != os.Getuid()) || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("bad owner or permissions on %s (must be owned by you or root and not writable by group or others)", file)
	}
	return nil
}

// includeFiles expands one Include argument into the files it names, in
// order: a relative path is taken in ~/.ssh (dir) for the user's file and
// in the system file's directory for it, ~ is allowed only in the user's
// file, and a glob is expanded as glob(3) does, sorted, with a wildcard
// never matching a leading dot.
func (c *configReader) includeFiles(arg, dir string, userConf bool) ([]string, error) {
	if strings.HasPrefix(arg, "~") && !userConf {
		return nil, fmt.Errorf("bad include path %s", arg)
	}
	path := arg
	if strings.HasPrefix(arg, "~") {
		p, err := expandTildeUser(arg, c.home)
		if err != nil {
			return nil, err
		}
		path = p
	} else if !filepath.IsAbs(arg) {
		path = filepath.Join(dir, arg)
	}
	matches, err := filepath.Glob(path)
	if err != nil {
		return nil, fmt.Errorf("glob failed for %s: %w", path, err)
	}
	out := matches[:0]
	for _, m := range matches {
		if !hiddenByGlob(path, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// hiddenByGlob reports whether match has a component starting with '.'
// that pattern's component matched with a wildcard (glob(3) requires a
// leading dot to be written out).
func hiddenByGlob(pattern, match string) bool {
	ps := strings.Split(filepath.ToSlash(pattern), "/")
	ms := strings.Split(filepath.ToSlash(match), "/")
	if len(ps) != len(ms) {
		return false
	}
	for i, m := range ms {
		if strings.HasPrefix(m, ".") && !strings.HasPrefix(ps[i], ".") {
			return true
		}
	}
	return false
}

// expandTildeUser expands a leading "~" or "~/" to home and "~name/" to
// that user's home directory, as ssh's tilde_expand_filename does; an
// unknown user is an error.
func expandTildeUser(p, home string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	if name == "" {
		return filepath.Join(home, rest), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("no such user %q in %q", name, p)
	}
	return filepath.Join(u.HomeDir, rest), nil
}
