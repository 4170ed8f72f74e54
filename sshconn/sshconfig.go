package sshconn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultSystemConfig is the system-wide OpenSSH client configuration,
// read after the user's file.
const DefaultSystemConfig = "/etc/ssh/ssh_config"

// SSHConfig resolves keys through OpenSSH client configuration files, the
// way `ssh KEY` does: the user's file, then the system file, each line
// applied when its Host or Match block matches, the first value obtained
// for a keyword winning. It reads the files on every Resolve (no caching,
// no global state), so edits apply to the next dial; every read is bounded
// (Limits). When neither file exists Resolve returns ErrNotFound, so a
// Chain falls through to the next resolver.
//
// It follows OpenSSH 9.2's readconf: Host patterns with * and ? (case
// sensitive) and ! negation; Match with all, host, originalhost, user,
// localuser, canonical and final (with a second pass for final), each
// negatable, host names matched without regard to case; Include of files
// and globs, relative to ~/.ssh (user) or the system file's directory,
// at most 16 deep, files writable by others refused; quoting and escapes
// as ssh splits arguments; every line's values checked whether or not its
// block applies; unknown keywords an error unless IgnoreUnknown names
// them. A user or port in the key ("alice@web:2222") takes precedence over
// the files, as on ssh's command line. What SSHConfig does with each
// keyword is listed by Keywords (supported, ignored, warning, error); the
// conformance test compares it with `ssh -G`.
//
// Differences from ssh, all deliberate: Match exec is an error when it
// would decide a block (it would run a command); CanonicalizeHostname and
// the other keywords of status error refuse a host they apply to; a
// ProxyCommand's %h is the host name as configured (ssh first asks the
// resolver for the canonical name of a name without a dot); ~ always
// expands to Home.
type SSHConfig struct {
	// Path is the user's configuration file; "" means ~/.ssh/config,
	// which, like every included file, is refused when writable by group
	// or others (as ssh refuses it). An explicit Path, like ssh -F, is not
	// checked.
	Path string
	// SystemPath is the system-wide file read after Path; "" means
	// DefaultSystemConfig and "none" means no system file (as with ssh -F).
	SystemPath string
	// Defaults supplies what the files do not: Auth (agent, secrets,
	// passphrases), host key policy, known_hosts files, timeouts. Identity
	// files from the files replace Defaults' IdentityFiles and
	// OptionalIdentityFiles.
	Defaults Target
	// LocalUser is %u and the default remote user; "" means the current
	// user.
	LocalUser string
	// Home is the directory ~ and %d expand to, and holds .ssh/config; ""
	// means the current user's home directory.
	Home string
	// Limits bounds each configuration file read; the zero value means
	// DefaultConfigMaxBytes and DefaultFileTimeout.
	Limits FileLimits
	// Logger receives the one-time warnings about keywords of status
	// warning; nil means slog.Default().
	Logger *slog.Logger

	// mu guards warned.
	mu     sync.Mutex
	warned map[string]bool // "file line N keyword" already warned about
}

// Resolve implements Resolver.
func (s *SSHConfig) Resolve(ctx context.Context, key string) (Target, error) {
	if err := ctx.Err(); err != nil {
		return Target{}, err
	}
	r := &configResolution{s: s, rd: &configReader{ctx: ctx, limits: s.Limits, home: s.home()}}
	t, err := r.resolve(key, nil, true)
	if err != nil {
		if r.noFiles {
			return Target{}, fmt.Errorf("%w: no ssh config at %s or %s", ErrNotFound, s.path(), s.systemPath())
		}
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

func (s *SSHConfig) systemPath() string {
	if s.SystemPath != "" {
		return s.SystemPath
	}
	return DefaultSystemConfig
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

func (s *SSHConfig) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// warnOnce logs a warning about the keyword on line l, once per line.
func (s *SSHConfig) warnOnce(l cfgLine, kw *keyword, why string) {
	id := l.pos() + " " + kw.name
	s.mu.Lock()
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	seen := s.warned[id]
	s.warned[id] = true
	s.mu.Unlock()
	if !seen {
		s.logger().Warn("sshconn: ssh_config keyword not supported, ignored",
			"file", l.file, "line", l.line, "keyword", kw.name, "value", why, "effect", kw.note)
	}
}

// configResolution resolves one key and its jump hosts, reading each file
// once.
type configResolution struct {
	s       *SSHConfig
	rd      *configReader
	noFiles bool // neither the user's nor the system file exists
}

// evaluate runs ssh's configuration passes for alias with the values
// given on the "command line" (the key's user and port, a suppressed
// proxy for a later jump hop) and returns the options and the host name.
func (r *configResolution) evaluate(alias string, preset map[string]cfgValue) (*cfgOptions, string, error) {
	opts := newCfgOptions()
	for k, v := range preset {
		opts.first[k] = v
	}
	e := &cfgEval{rd: r.rd, host: alias, original: alias, localUser: r.s.localUser(),
		sysDir: filepath.Dir(r.s.systemPath()), sshDir: sshDirOf(r.s.home()), opts: opts}
	if err := r.pass(e); err != nil {
		return nil, "", err
	}
	host, err := hostName(alias, opts)
	if err != nil || !e.wantFinal {
		return opts, host, err
	}
	// Match final: read everything again with the host name in place of
	// the host as given; values already obtained stay.
	final := &cfgEval{rd: r.rd, host: host, original: alias, localUser: e.localUser, final: true,
		sysDir: e.sysDir, sshDir: e.sshDir, opts: opts}
	return opts, host, r.pass(final)
}

// pass processes the user's file and then the system file.
func (r *configResolution) pass(e *cfgEval) error {
	active := true
	userMissing, err := e.file(r.s.path(), true, r.s.Path == "", 0, &active, false)
	if err != nil {
		return err
	}
	sysMissing := true
	if r.s.SystemPath != "none" {
		active = true
		if sysMissing, err = e.file(r.s.systemPath(), false, false, 0, &active, false); err != nil {
			return err
		}
	}
	r.noFiles = userMissing && sysMissing
	if r.noFiles {
		return ErrNotFound
	}
	return nil
}

// hostName is the host ssh connects to: HostName with %h expanded, else
// the host as given, lower-cased unless it is an address.
func hostName(alias string, o *cfgOptions) (string, error) {
	host := alias
	if v, ok := o.get("hostname"); ok {
		h, bad := expandTokens(v.first(), hostNameTokens, tokens{'h': alias})
		if bad != "" {
			return "", v.line.errorf("HostName %q: want only the tokens %%h %%%% (unknown %s)", v.first(), bad)
		}
		host = h
	}
	// Like ssh 9.2, lower-case a name, but not an address or a name with
	// a '%' in it (an IPv6 zone, or what ssh takes for one).
	if ip, _, _ := strings.Cut(strings.Trim(host, "[]"), "%"); net.ParseIP(ip) == nil && !strings.Contains(host, "%") {
		host = strings.ToLower(host)
	}
	return host, nil
}

// resolve resolves key. With jumps, its ProxyJump chain is resolved too
// (or its ProxyCommand kept); without, it is a later jump hop, reached
// through the previous hop, and its own ProxyJump and ProxyCommand are not
// consulted (ssh -J does the same). path lists the hosts already on the
// jump chain.
func (r *configResolution) resolve(key string, path []string, jumps bool) (Target, error) {
	return r.resolveVia(key, path, jumps, "")
}

// resolveVia is resolve; a later hop (!jumps) gets via, the hops before
// it, as its ProxyJump (ssh -J via), which excludes its own ProxyJump and
// ProxyCommand.
func (r *configResolution) resolveVia(key string, path []string, jumps bool, via string) (Target, error) {
	keyUser, alias, keyPort, err := parseJumpHop(key)
	if err != nil {
		return Target{}, err
	}
	preset := map[string]cfgValue{}
	cmdline := cfgLine{file: "command line"}
	if keyUser != "" {
		preset["user"] = cfgValue{args: []string{keyUser}, line: cmdline}
	}
	if keyPort != 0 {
		preset["port"] = cfgValue{args: []string{fmt.Sprint(keyPort)}, line: cmdline}
	}
	if !jumps {
		preset["proxyjump"] = cfgValue{args: []string{via}, rest: via, line: cmdline}
	}
	opts, host, err := r.evaluate(alias, preset)
	if err != nil {
		return Target{}, err
	}
	b := &targetBuilder{s: r.s, opts: opts, alias: alias}
	t, err := b.build(key, host)
	if err != nil {
		return Target{}, err
	}
	if err := r.notices(opts); err != nil {
		return Target{}, err
	}
	if !jumps {
		return t, nil
	}
	return r.applyJumps(t, opts, alias, append(path, alias))
}

// notices refuses the keywords of status error and warns once about those
// of status warning whose value in effect matters.
func (r *configResolution) notices(o *cfgOptions) error {
	for name, v := range o.first {
		kw := keywordTable[name]
		if kw == nil || (kw.status != KeywordWarning && kw.status != KeywordError) || v.line.file == "command line" {
			continue
		}
		why := "set"
		if kw.matters != nil {
			if why = kw.matters(v, o); why == "" {
				continue
			}
		}
		if kw.status == KeywordError {
			return v.line.errorf("%s %s is not supported: %s", kw.name, why, kw.note)
		}
		r.s.warnOnce(v.line, kw, why)
	}
	return nil
}

// applyJumps resolves ProxyJump. "a,b" means: reach a (through a's own
// ProxyJump or ProxyCommand, if any), then b through a, then t through b.
func (r *configResolution) applyJumps(t Target, o *cfgOptions, alias string, path []string) (Target, error) {
	v, ok := o.get("proxyjump")
	if !ok {
		return t, nil
	}
	pj, _, _ := strings.Cut(v.rest, "#")
	pj = strings.TrimSpace(pj)
	if pj == "" || strings.EqualFold(pj, "none") {
		return t, nil
	}
	if len(path) > MaxJumpDepth {
		return Target{}, fmt.Errorf("%w: chain deeper than %d at %q", ErrJumpLoop, MaxJumpDepth, alias)
	}
	hops := strings.Split(pj, ",")
	for i, hop := range hops {
		hop = strings.TrimSpace(hop)
		if err := checkLoop(hop, path); err != nil {
			return Target{}, fmt.Errorf("%s: %w", v.line.pos(), err)
		}
		// Only the first hop is reached through its own ProxyJump; later
		// hops are reached through the previous one, so their ProxyJump is
		// not even resolved (which also keeps the work linear in the
		// configuration, whatever its fan-out).
		ht, err := r.resolveVia(hop, path, i == 0, strings.Join(hops[:i], ","))
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
	_, alias, _, err := parseJumpHop(hop)
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

func allDevNull(files []string) bool {
	for _, f := range files {
		if f != os.DevNull && !strings.EqualFold(f, "none") {
			return false
		}
	}
	return len(files) > 0
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
