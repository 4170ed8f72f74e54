package sshconn

import (
	"fmt"
	"os"
	"strings"
)

// tokens maps OpenSSH's percent-expansion token letters to their values.
type tokens map[byte]string

// The tokens each keyword takes (ssh_config(5) TOKENS, OpenSSH 9.2); %%
// is always allowed. HostName takes only %h (the host as given);
// IdentityFile, CertificateFile, IdentityAgent and UserKnownHostsFile take
// %C (SHA-1 of %l%h%p%r), %d (home), %h (the host name), %i (local uid),
// %k (HostKeyAlias, else the host as given), %L and %l (local host name,
// short and full), %n (the host as given), %p, %r, %u (local user), and
// %j (the ProxyJump value, from OpenSSH 9.4; 9.2 rejects it); ProxyCommand
// takes %h %k %n %p %r.
const (
	hostNameTokens     = "h"
	pathTokens         = "CdhijkLlnpru"
	proxyCommandTokens = "hknpr"
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

// expandEnv expands ${NAME} references from the environment, as ssh's
// dollar_expand does: an unterminated reference, a bad name or an unset
// variable is an error.
func expandEnv(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable name %q", name)
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// expandProxyCommand returns the shell command ssh would run for a
// ProxyCommand: "exec " and the command with %h %k %n %p %r %% expanded
// for t.
func expandProxyCommand(command string, t Target) (string, error) {
	alias := firstNonEmpty(t.Alias, t.Host)
	tok := tokens{'h': t.Host, 'p': fmt.Sprint(portOr22(t.Port)), 'r': t.User, 'n': alias,
		'k': firstNonEmpty(t.HostKeyAlias, alias)}
	out, bad := expandTokens(command, proxyCommandTokens, tok)
	if bad != "" {
		return "", fmt.Errorf("ProxyCommand: unknown token %s (it takes %%h %%k %%n %%p %%r %%%%)", bad)
	}
	return "exec " + out, nil
}
