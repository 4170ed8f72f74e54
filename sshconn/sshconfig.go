package sshconn

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// SSHConfig resolves keys through an OpenSSH client configuration file,
// like `ssh KEY` does. It reads the file on every Resolve (no caching, no
// global state), so edits apply to the next dial. A missing file makes
// Resolve return ErrNotFound, so a Chain falls through to the next resolver.
//
// Supported keywords: HostName (with %h), Port, User, IdentityFile (several;
// ~ and the tokens %C %d %h %i %j %k %L %l %n %p %r %u %% expanded, an
// unknown token is an error), ProxyJump (comma-separated hops or "none"),
// UserKnownHostsFile (the same tokens), StrictHostKeyChecking (yes/ask → strict,
// accept-new → accept-new, no/off → accept-new, or insecure when every
// known_hosts file is /dev/null), HashKnownHosts, ConnectTimeout,
// ServerAliveInterval and TCPKeepAlive. A user or port in the key
// ("alice@web:2222") overrides the file, as on ssh's command line. Match
// host is tested against the alias, as in kevinburke/ssh_config. A value
// ssh would reject (Port 99999, TCPKeepAlive maybe, ConnectTimeout 5x) is a
// *ConfigError naming the keyword, the host and what it accepts; times take
// OpenSSH's format (90, 90s, 1h30m). As in ssh, only the first hop of a
// ProxyJump list is reached through its own ProxyJump; a chain longer than
// MaxJumpDepth hops is ErrJumpLoop.
type SSHConfig struct {
	// Path is the configuration file; "" means ~/.ssh/config.
	Path string
	// Defaults supplies what the file does not: Auth (agent, secrets,
	// passphrases), host key policy, known_hosts files, timeouts. Identity
	// files from the file replace Defaults' IdentityFiles and
	// OptionalIdentityFiles.
	Defaults Target
	// LocalUser is %u and the default remote user; "" means the current
	// user.
	LocalUser string
	// Home is the directory ~ and %d expand to; "" means the current user's
	// home directory.
	Home string
}

// Resolve implements Resolver.
func (s *SSHConfig) Resolve(ctx context.Context, key string) (Target, error) {
	if err := ctx.Err(); err != nil {
		return Target{}, err
	}
	cfg, err := s.load()
	if err != nil {
		return Target{}, err
	}
	r := &configResolution{s: s, cfg: cfg}
	t, err := r.resolve(key, nil, true)
	if err != nil {
		return Target{}, &ConfigError{Key: key, Err: err}
	}
	return t, nil
}

func (s *SSHConfig) path() string {
	if s.Path != "" {
		return s.Path
	}
	return filepath.Join(s.home(), ".ssh", "config")
}

func (s *SSHConfig) home() string {
	if s.Home != "" {
		return s.Home
	}
	h, _ := os.UserHomeDir()
	return h
}

func (s *SSHConfig) localUser() string {
	if s.LocalUser != "" {
		return s.LocalUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func (s *SSHConfig) load() (*ssh_config.Config, error) {
	f, err := os.Open(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no ssh config at %s", ErrNotFound, s.path())
	}
	if err != nil {
		return nil, &ConfigError{Key: s.path(), Err: err}
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, &ConfigError{Key: s.path(), Err: err}
	}
	return cfg, nil
}

// configResolution resolves one key and its jump hosts against one parsed
// configuration.
type configResolution struct {
	s   *SSHConfig
	cfg *ssh_config.Config
	err error // first lookup error
}

func (r *configResolution) get(alias, kw string) string {
	v, err := r.cfg.Get(alias, kw)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s for %q: %w", kw, alias, err)
	}
	return v
}

func (r *configResolution) getAll(alias, kw string) []string {
	v, err := r.cfg.GetAll(alias, kw)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s for %q: %w", kw, alias, err)
	}
	return v
}

// resolve resolves key, with its own ProxyJump chain when jumps is set;
// path lists the hosts already on the jump chain.
func (r *configResolution) resolve(key string, path []string, jumps bool) (Target, error) {
	keyUser, alias, keyPort, err := ParseKey(key)
	if err != nil {
		return Target{}, err
	}
	t := r.s.Defaults
	t.Key, t.JumpHosts = key, nil
	t.Host = r.expand(alias, "HostName", r.get(alias, "HostName"), hostNameTokens, tokens{'h': alias})
	if t.Host == "" {
		t.Host = alias
	}
	t.Port = r.port(alias, keyPort, t.Port)
	t.User = firstNonEmpty(keyUser, r.get(alias, "User"), t.User, r.s.localUser())
	r.applyOptions(&t, alias)
	if r.err != nil {
		return Target{}, r.err
	}
	if !jumps {
		return t, nil
	}
	return r.applyJumps(t, alias, append(path, alias))
}

func (r *configResolution) applyOptions(t *Target, alias string) {
	if files := r.getAll(alias, "IdentityFile"); len(files) > 0 {
		t.Auth.IdentityFiles = r.expandPaths(t, alias, "IdentityFile", files)
		t.Auth.OptionalIdentityFiles = nil
	}
	if v := r.get(alias, "UserKnownHostsFile"); v != "" {
		t.KnownHostsFiles = r.expandPaths(t, alias, "UserKnownHostsFile", strings.Fields(v))
	}
	t.HostKey = r.hostKeyPolicy(alias, t.HostKey, t.KnownHostsFiles)
	if v, ok := r.yesNo(alias, "HashKnownHosts"); ok {
		t.HashKnownHosts = v
	}
	if d, ok := r.duration(alias, "ConnectTimeout"); ok {
		t.DialTimeout = d
	}
	if d, ok := r.duration(alias, "ServerAliveInterval"); ok {
		t.KeepaliveInterval = d
	}
	if v, ok := r.yesNo(alias, "TCPKeepAlive"); ok && !v {
		t.TCPKeepAlive = -1
	}
}

// invalid records the first invalid value, naming the keyword, the host
// and what the keyword accepts.
func (r *configResolution) invalid(alias, kw, v, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s %q for %q: want %s", kw, v, alias, want)
	}
}

// port returns the key's port, else the file's Port (1..65535), else def.
func (r *configResolution) port(alias string, keyPort, def int) int {
	v := r.get(alias, "Port")
	if v == "" {
		return firstNonZero(keyPort, def)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		r.invalid(alias, "Port", v, "a port number 1..65535")
		return def
	}
	return firstNonZero(keyPort, n)
}

func firstNonZero(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// yesNo reads a yes/no keyword (true and false too, as in ssh); ok is
// false when it is not set.
func (r *configResolution) yesNo(alias, kw string) (v, ok bool) {
	switch s := r.get(alias, kw); strings.ToLower(s) {
	case "":
		return false, false
	case "yes", "true":
		return true, true
	case "no", "false":
		return false, true
	default:
		r.invalid(alias, kw, s, "yes or no")
		return false, false
	}
}

// duration reads a time keyword in OpenSSH's format; ok is false when it
// is not set.
func (r *configResolution) duration(alias, kw string) (time.Duration, bool) {
	s := r.get(alias, kw)
	if s == "" {
		return 0, false
	}
	d, err := convTime(s)
	if err != nil {
		r.invalid(alias, kw, s, "seconds, or a time such as 30s, 5m, 1h30m")
		return 0, false
	}
	return d, true
}

// convTime parses OpenSSH's time format (sshd_config(5) TIME FORMATS): a
// sequence of numbers, each optionally followed by s, m, h, d or w (any
// case); a bare number is seconds. The total must not exceed a year.
func convTime(s string) (time.Duration, error) {
	const max = 365 * 24 * time.Hour
	var total time.Duration
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, fmt.Errorf("bad time %q", s)
		}
		n, _ := strconv.Atoi(rest[:i])
		unit := time.Second
		rest = rest[i:]
		if rest != "" {
			switch rest[0] {
			case 's', 'S':
			case 'm', 'M':
				unit = time.Minute
			case 'h', 'H':
				unit = time.Hour
			case 'd', 'D':
				unit = 24 * time.Hour
			case 'w', 'W':
				unit = 7 * 24 * time.Hour
			default:
				return 0, fmt.Errorf("bad time %q", s)
			}
			rest = rest[1:]
		}
		if total += time.Duration(n) * unit; total > max {
			return 0, fmt.Errorf("time %q over a year", s)
		}
	}
	return total, nil
}

// expandPaths expands the tokens and ~ of kw's paths for t reached as
// alias. The token values (a host name lookup, a hash) are computed only
// for a path that has a token.
func (r *configResolution) expandPaths(t *Target, alias, kw string, in []string) []string {
	var tok tokens
	out := make([]string, 0, len(in))
	for _, p := range in {
		if tok == nil && strings.Contains(p, "%") {
			tok = r.pathTokenValues(t, alias)
		}
		out = append(out, expandTilde(r.expand(alias, kw, p, pathTokens, tok), r.s.home()))
	}
	return out
}

// pathTokenValues returns the values of the tokens IdentityFile and
// UserKnownHostsFile take, for t reached as alias.
func (r *configResolution) pathTokenValues(t *Target, alias string) tokens {
	fqdn, _ := os.Hostname()
	short, _, _ := strings.Cut(fqdn, ".")
	jump := r.get(alias, "ProxyJump")
	if strings.EqualFold(jump, "none") {
		jump = ""
	}
	tok := tokens{'h': t.Host, 'p': strconv.Itoa(portOr22(t.Port)), 'r': t.User, 'u': r.s.localUser(),
		'd': r.s.home(), 'n': alias, 'k': alias, 'i': strconv.Itoa(os.Getuid()), 'l': fqdn, 'L': short, 'j': jump}
	sum := sha1.Sum([]byte(tok['l'] + tok['h'] + tok['p'] + tok['r'] + tok['j']))
	tok['C'] = hex.EncodeToString(sum[:])
	return tok
}

// expand expands the %-tokens of v that kw takes (allowed), recording an
// unknown token or a lone % as an invalid value, as ssh does.
func (r *configResolution) expand(alias, kw, v, allowed string, tok tokens) string {
	out, bad := expandTokens(v, allowed, tok)
	if bad != "" {
		var want strings.Builder
		for i := range len(allowed) {
			fmt.Fprintf(&want, " %%%c", allowed[i])
		}
		r.invalid(alias, kw, v, "only the tokens"+want.String()+" %% (unknown "+bad+")")
	}
	return out
}

// applyJumps resolves ProxyJump. "a,b" means: reach a (through a's own
// ProxyJump, if any), then b through a, then t through b.
func (r *configResolution) applyJumps(t Target, alias string, path []string) (Target, error) {
	pj := strings.TrimSpace(r.get(alias, "ProxyJump"))
	if pj == "" || strings.EqualFold(pj, "none") {
		return t, r.err
	}
	if len(path) > MaxJumpDepth {
		return Target{}, fmt.Errorf("%w: chain deeper than %d at %q", ErrJumpLoop, MaxJumpDepth, alias)
	}
	for i, hop := range strings.Split(pj, ",") {
		hop = strings.TrimSpace(hop)
		if err := checkLoop(hop, path); err != nil {
			return Target{}, err
		}
		// Only the first hop is reached through its own ProxyJump; later
		// hops are reached through the previous one, so their ProxyJump is
		// not even resolved (which also keeps the work linear in the
		// configuration, whatever its fan-out).
		ht, err := r.resolve(hop, path, i == 0)
		if err != nil {
			return Target{}, fmt.Errorf("ProxyJump %q: %w", hop, err)
		}
		t.JumpHosts = append(t.JumpHosts, ht.JumpHosts...)
		ht.JumpHosts = nil
		t.JumpHosts = append(t.JumpHosts, ht)
		if len(t.JumpHosts) > MaxJumpDepth {
			return Target{}, fmt.Errorf("%w: %q is reached through more than %d jump hosts", ErrJumpLoop, alias, MaxJumpDepth)
		}
	}
	return t, nil
}

func checkLoop(hop string, path []string) error {
	_, alias, _, err := ParseKey(hop)
	if err != nil {
		return err
	}
	for _, p := range path {
		if p == alias {
			return fmt.Errorf("%w: %q reached again via %s", ErrJumpLoop, alias, strings.Join(path, " -> "))
		}
	}
	return nil
}

func (r *configResolution) hostKeyPolicy(alias string, def HostKeyPolicy, files []string) HostKeyPolicy {
	switch v := r.get(alias, "StrictHostKeyChecking"); strings.ToLower(v) {
	case "":
		return def
	case "yes", "ask", "true":
		return HostKeyStrict
	case "accept-new":
		return HostKeyAcceptNew
	case "no", "off", "false":
		if allDevNull(files) {
			return HostKeyInsecure
		}
		return HostKeyAcceptNew
	default:
		r.invalid(alias, "StrictHostKeyChecking", v, "yes, ask, accept-new, no or off")
		return def
	}
}

func allDevNull(files []string) bool {
	for _, f := range files {
		if f != os.DevNull && !strings.EqualFold(f, "none") {
			return false
		}
	}
	return len(files) > 0
}

// tokens maps OpenSSH's percent-expansion token letters to their values.
type tokens map[byte]string

// The tokens each keyword takes (ssh_config(5) TOKENS); %% is always
// allowed. HostName takes only %h (the alias); IdentityFile and
// UserKnownHostsFile take %C (SHA-1 of %l%h%p%r%j), %d (home), %h, %i
// (local uid), %j (ProxyJump), %k (host key alias: the alias here), %L
// and %l (local host name, short and full), %n (the alias), %p, %r, %u.
const (
	hostNameTokens = "h"
	pathTokens     = "CdhijkLlnpru"
)

// expandTokens expands the tokens of s that allowed lists, and %%. It
// returns the first unknown token (or a trailing lone %) in bad.
func expandTokens(s, allowed string, t tokens) (out, bad string) {
	if !strings.Contains(s, "%") {
		return s, ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return s, "%"
		}
		i++
		switch c := s[i]; {
		case c == '%':
			b.WriteByte('%')
		case strings.IndexByte(allowed, c) >= 0:
			b.WriteString(t[c])
		default:
			return s, "%" + string(c)
		}
	}
	return b.String(), ""
}

func expandTilde(p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func portOr22(p int) int {
	if p == 0 {
		return DefaultPort
	}
	return p
}
