package sshconn

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// targetBuilder turns the options the configuration gives one host into
// a Target.
type targetBuilder struct {
	s     *SSHConfig
	opts  *cfgOptions
	alias string // the host as given (%n)
	tok   tokens // path token values, computed on first use
}

func (b *targetBuilder) build(key, host string) (Target, error) {
	t := b.s.Defaults
	t.Key, t.Alias, t.Host, t.JumpHosts = key, b.alias, host, nil
	if v, ok := b.opts.get("port"); ok {
		t.Port, _ = strconv.Atoi(v.first())
	}
	t.User = firstNonEmpty(b.str("user"), t.User, b.s.localUser())
	if v := b.str("hostkeyalias"); v != "" {
		t.HostKeyAlias = strings.ToLower(v)
	}
	steps := []func(*Target) error{b.identities, b.agent, b.authMethods, b.knownHosts, b.proxyCommand, b.timeouts}
	for _, step := range steps {
		if err := step(&t); err != nil {
			return Target{}, err
		}
	}
	return t, nil
}

func (b *targetBuilder) str(kw string) string {
	v, _ := b.opts.get(kw)
	return v.first()
}

func (b *targetBuilder) flag(kw string) (v, ok bool) {
	s := b.str(kw)
	if s == "" {
		return false, false
	}
	return strings.EqualFold(s, "yes") || strings.EqualFold(s, "true"), true
}

// identities applies IdentityFile, CertificateFile and IdentitiesOnly.
func (b *targetBuilder) identities(t *Target) error {
	if files := b.opts.lists["identityfile"]; len(files) > 0 {
		paths, err := b.paths(t, files)
		if err != nil {
			return err
		}
		t.Auth.IdentityFiles, t.Auth.OptionalIdentityFiles = paths, nil
	}
	if certs := b.opts.lists["certificatefile"]; len(certs) > 0 {
		paths, err := b.paths(t, certs)
		if err != nil {
			return err
		}
		t.Auth.CertificateFiles = paths
	}
	for _, kw := range []string{"identityfile", "certificatefile"} {
		if l := b.opts.lists[kw]; len(l) > maxIdentityFiles {
			return l[maxIdentityFiles].line.errorf("too many %s lines (max %d)", kwName(l[0].line), maxIdentityFiles)
		}
	}
	if v, ok := b.flag("identitiesonly"); ok {
		t.Auth.IdentitiesOnly = v
	}
	return nil
}

// agent applies IdentityAgent: none disables the agent, SSH_AUTH_SOCK
// means the environment's socket, $NAME another variable's, and anything
// else is a socket path (with ~, ${VAR} and tokens expanded).
func (b *targetBuilder) agent(t *Target) error {
	v, ok := b.opts.get("identityagent")
	if !ok {
		return nil
	}
	arg := v.first()
	switch {
	case strings.EqualFold(arg, "none"):
		t.Auth.Agent, t.Auth.AgentSocket = false, ""
	case arg == "SSH_AUTH_SOCK":
		t.Auth.Agent, t.Auth.AgentSocket = true, ""
	case strings.HasPrefix(arg, "$") && !strings.HasPrefix(arg, "${"):
		if !validEnvName(arg[1:]) {
			return v.line.errorf("IdentityAgent %q: invalid environment variable name", arg)
		}
		sock := os.Getenv(arg[1:])
		t.Auth.Agent, t.Auth.AgentSocket = sock != "", sock
	default:
		p, err := b.path(t, v, arg)
		if err != nil {
			return err
		}
		t.Auth.Agent, t.Auth.AgentSocket = true, p
	}
	return nil
}

// authMethods applies PubkeyAuthentication, PasswordAuthentication and
// KbdInteractiveAuthentication set to no.
func (b *targetBuilder) authMethods(t *Target) error {
	if s := b.str("pubkeyauthentication"); strings.EqualFold(s, "no") || strings.EqualFold(s, "false") {
		t.Auth.DisablePublicKey = true
	}
	if v, ok := b.flag("passwordauthentication"); ok && !v {
		t.Auth.DisablePassword = true
	}
	if v, ok := b.flag("kbdinteractiveauthentication"); ok && !v {
		t.Auth.DisableKeyboardInteractive = true
	}
	return nil
}

// knownHosts applies UserKnownHostsFile, GlobalKnownHostsFile,
// StrictHostKeyChecking and HashKnownHosts.
func (b *targetBuilder) knownHosts(t *Target) error {
	if v, ok := b.opts.get("userknownhostsfile"); ok {
		files, err := b.fileList(t, v)
		if err != nil {
			return err
		}
		t.KnownHostsFiles = files
	}
	if v, ok := b.opts.get("globalknownhostsfile"); ok {
		files, err := b.fileList(t, v)
		if err != nil {
			return err
		}
		t.GlobalKnownHostsFiles = files
	}
	switch strings.ToLower(b.str("stricthostkeychecking")) {
	case "yes", "ask", "true":
		t.HostKey = HostKeyStrict
	case "accept-new":
		t.HostKey = HostKeyAcceptNew
	case "no", "off", "false":
		t.HostKey = HostKeyAcceptNew
		if allDevNull(t.KnownHostsFiles) {
			t.HostKey = HostKeyInsecure
		}
	}
	if v, ok := b.flag("hashknownhosts"); ok {
		t.HashKnownHosts = v
	}
	return nil
}

// fileList expands a known_hosts file list; "none" is the empty list.
func (b *targetBuilder) fileList(t *Target, v cfgValue) ([]string, error) {
	if strings.EqualFold(v.first(), "none") {
		return []string{}, nil
	}
	out := make([]string, 0, len(v.args))
	for _, a := range v.args {
		p, err := b.path(t, v, a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// proxyCommand applies ProxyCommand ("none" disables it; "-" is refused:
// there is no stdin and stdout to connect over). The tokens are checked
// now and expanded when dialling.
func (b *targetBuilder) proxyCommand(t *Target) error {
	v, ok := b.opts.get("proxycommand")
	if !ok || strings.EqualFold(v.rest, "none") {
		return nil
	}
	if v.rest == "-" {
		return v.line.errorf("ProxyCommand - (ssh's own stdin and stdout) is not supported")
	}
	if _, err := expandProxyCommand(v.rest, *t); err != nil {
		return v.line.errorf("%v", err)
	}
	t.ProxyCommand = v.rest
	return nil
}

// timeouts applies ConnectTimeout, ServerAliveInterval,
// ServerAliveCountMax and TCPKeepAlive.
func (b *targetBuilder) timeouts(t *Target) error {
	if d, ok := b.duration("connecttimeout"); ok && d > 0 {
		t.DialTimeout = d
	}
	if d, ok := b.duration("serveraliveinterval"); ok {
		t.KeepaliveInterval = d
	}
	if t.KeepaliveInterval > 0 {
		count := 3
		if v, ok := b.opts.get("serveralivecountmax"); ok {
			count, _ = strconv.Atoi(v.first())
		}
		if count > 0 {
			t.KeepaliveTimeout = t.KeepaliveInterval * time.Duration(count)
		}
	}
	if v, ok := b.flag("tcpkeepalive"); ok && !v {
		t.TCPKeepAlive = -1
	}
	return nil
}

func (b *targetBuilder) duration(kw string) (time.Duration, bool) {
	s := b.str(kw)
	if s == "" || s == "none" {
		return 0, false
	}
	d, err := convTime(s)
	return d, err == nil
}

// paths expands the paths of accumulated lines.
func (b *targetBuilder) paths(t *Target, vs []cfgValue) ([]string, error) {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		p, err := b.path(t, v, v.first())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// path expands ~, then tokens and ${VAR} in a path argument of v's
// keyword, as ssh does.
func (b *targetBuilder) path(t *Target, v cfgValue, arg string) (string, error) {
	p, err := expandTildeUser(arg, b.s.home())
	if err != nil {
		return "", v.line.errorf("%s: %v", kwName(v.line), err)
	}
	if strings.Contains(p, "%") {
		if b.tok == nil {
			b.tok = b.pathTokenValues(t)
		}
		out, bad := expandTokens(p, pathTokens, b.tok)
		if bad != "" {
			var want strings.Builder
			for i := range len(pathTokens) {
				fmt.Fprintf(&want, " %%%c", pathTokens[i])
			}
			return "", v.line.errorf("%s %q: want only the tokens%s %%%% (unknown %s)", kwName(v.line), arg, want.String(), bad)
		}
		p = out
	}
	p, err = expandEnv(p)
	if err != nil {
		return "", v.line.errorf("%s %q: %v", kwName(v.line), arg, err)
	}
	return p, nil
}

// pathTokenValues returns the token values of t's path keywords.
func (b *targetBuilder) pathTokenValues(t *Target) tokens {
	fqdn, _ := os.Hostname()
	short, _, _ := strings.Cut(fqdn, ".")
	jump := b.str("proxyjump")
	if v, ok := b.opts.get("proxyjump"); ok {
		jump = strings.TrimSpace(v.rest)
	}
	if strings.EqualFold(jump, "none") {
		jump = ""
	}
	port := strconv.Itoa(portOr22(t.Port))
	tok := tokens{'h': t.Host, 'p': port, 'r': t.User, 'u': b.s.localUser(), 'd': b.s.home(), 'n': b.alias,
		'k': firstNonEmpty(t.HostKeyAlias, b.alias), 'i': strconv.Itoa(os.Getuid()), 'l': fqdn, 'L': short, 'j': jump}
	sum := sha1.Sum([]byte(fqdn + t.Host + port + t.User))
	tok['C'] = hex.EncodeToString(sum[:])
	return tok
}

// kwName is the keyword of l as ssh_config(5) spells it.
func kwName(l cfgLine) string {
	if kw := keywordTable[l.keyword]; kw != nil {
		return kw.name
	}
	return l.keyword
}
