package sshconn

import (
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Defaults applied when a Target field is zero.
const (
	// DefaultPort is the SSH port used when Target.Port is 0.
	DefaultPort = 22
	// DefaultDialTimeout bounds one dial attempt (TCP connect, handshake,
	// authentication) when Target.DialTimeout is 0.
	DefaultDialTimeout = 15 * time.Second
	// DefaultTCPKeepAlive is the TCP keepalive period when
	// Target.TCPKeepAlive is 0.
	DefaultTCPKeepAlive = 30 * time.Second
	// DefaultKeepaliveTimeout bounds one keepalive@openssh.com probe when
	// Target.KeepaliveTimeout is 0.
	DefaultKeepaliveTimeout = 5 * time.Second
	// MaxJumpDepth is the longest ProxyJump chain accepted.
	MaxJumpDepth = 8
)

// HostKeyPolicy decides what happens to host keys that are not (or not
// identically) recorded in known_hosts. A changed key is refused under
// every policy except HostKeyInsecure.
type HostKeyPolicy int

const (
	// HostKeyStrict accepts only keys recorded in known_hosts (directly or
	// through @cert-authority). It is the zero value and the default.
	HostKeyStrict HostKeyPolicy = iota
	// HostKeyAcceptNew records the key of a host that known_hosts does not
	// mention and accepts it; a changed or revoked key is still refused
	// (OpenSSH StrictHostKeyChecking=accept-new).
	HostKeyAcceptNew
	// HostKeyInsecure accepts any host key without checking. Every use is
	// logged at WARN, and Target.String shows it.
	HostKeyInsecure
)

// String returns "strict", "accept-new" or "INSECURE".
func (p HostKeyPolicy) String() string {
	switch p {
	case HostKeyStrict:
		return "strict"
	case HostKeyAcceptNew:
		return "accept-new"
	case HostKeyInsecure:
		return "INSECURE"
	}
	return "HostKeyPolicy(" + strconv.Itoa(int(p)) + ")"
}

// Auth says how to authenticate to a target. Methods are offered in
// OpenSSH's order: publickey (agent, Signers, IdentityFiles), then
// keyboard-interactive and password when Secrets or PasswordEnv is set.
type Auth struct {
	// Agent enables keys from an SSH agent: AgentSocket, or $SSH_AUTH_SOCK
	// when AgentSocket is "". An unset variable is not an error: the agent
	// is then skipped.
	Agent bool
	// AgentSocket is the agent's unix socket path; "" means $SSH_AUTH_SOCK.
	AgentSocket string
	// IdentityFiles are private key files, tried in order. A certificate
	// "<file>-cert.pub" next to a key is offered before the bare key.
	IdentityFiles []string
	// CertificateFiles are OpenSSH certificates (ssh_config
	// CertificateFile); each is offered, before the bare key, with the
	// identity file or agent key it certifies, and skipped (with a
	// warning) when there is none.
	CertificateFiles []string
	// IdentitiesOnly offers only the configured identities: Signers,
	// IdentityFiles, and the agent's keys that match an identity file (as
	// ssh does with IdentitiesOnly yes, which matters against a server's
	// MaxAuthTries). An encrypted identity file with no passphrase
	// available is then used through the agent when the agent holds it.
	IdentitiesOnly bool
	// OptionalIdentityFiles are like IdentityFiles but skipped when they
	// cannot be used, as ssh skips its default ~/.ssh/id_* files: silently
	// when missing, with a warning when unreadable, not a key, or
	// encrypted with no passphrase available (and not in the agent).
	OptionalIdentityFiles []string
	// Signers are in-memory keys, offered after the agent's keys and before
	// IdentityFiles.
	Signers []ssh.Signer
	// Passphrase supplies passphrases for encrypted identity files; it is
	// asked before PassphraseEnv.
	Passphrase PassphraseFunc
	// PassphraseEnv names an environment variable holding the passphrase
	// for encrypted identity files; "" means none.
	PassphraseEnv string
	// Secrets enables password and keyboard-interactive authentication.
	// It is asked instead of PasswordEnv when both are set.
	Secrets SecretSource
	// PasswordEnv names an environment variable holding the password; ""
	// means none. It enables password and keyboard-interactive
	// authentication like Secrets, and is read during each handshake, when
	// the server asks for a password (a rotated value is used from the
	// next dial; a dial that a key authenticates never reads it). A
	// variable unset or empty then fails the authentication with an error
	// naming the variable (ErrPasswordEnv, within an *AuthError: not
	// retried). The value never appears in an error, a log or String.
	PasswordEnv string
	// DisablePublicKey, DisablePassword and DisableKeyboardInteractive
	// withhold a method (ssh_config PubkeyAuthentication,
	// PasswordAuthentication, KbdInteractiveAuthentication no).
	DisablePublicKey, DisablePassword, DisableKeyboardInteractive bool
}

// String lists the configured methods without key material or secrets,
// e.g. "Auth{agent, 2 identity files, 1 signer, secrets, password $DB_PW}".
func (a Auth) String() string {
	var parts []string
	if a.Agent {
		parts = append(parts, "agent")
	}
	if n := len(a.IdentityFiles) + len(a.OptionalIdentityFiles); n > 0 {
		parts = append(parts, strconv.Itoa(n)+" identity files")
	}
	if len(a.Signers) > 0 {
		parts = append(parts, strconv.Itoa(len(a.Signers))+" signers")
	}
	if a.Secrets != nil {
		parts = append(parts, "secrets")
	}
	if a.PasswordEnv != "" {
		parts = append(parts, "password $"+a.PasswordEnv)
	}
	return "Auth{" + strings.Join(parts, ", ") + "}"
}

// GoString is String, so %#v prints no key material.
func (a Auth) GoString() string { return a.String() }

// Target is everything needed to dial one SSH server.
type Target struct {
	// Key is the key this target was resolved from (informational).
	Key string
	// Host is the host name or IP address to connect to (no brackets).
	Host string
	// Alias is the host as the user wrote it (an ssh_config alias, ssh's
	// %n); "" means Host. Errors name it next to Host.
	Alias string
	// Port is the TCP port; 0 means 22.
	Port int
	// User is the remote user name.
	User string
	// Auth configures authentication.
	Auth Auth
	// HostKey is the host key policy; the zero value is HostKeyStrict.
	HostKey HostKeyPolicy
	// KnownHostsFiles are read for host keys; HostKeyAcceptNew appends to
	// the first. Missing files count as empty. Hashed entries are read.
	KnownHostsFiles []string
	// GlobalKnownHostsFiles are read after KnownHostsFiles and never
	// written (ssh's GlobalKnownHostsFile; OpenSSHDefaults sets
	// /etc/ssh/ssh_known_hosts and ssh_known_hosts2).
	GlobalKnownHostsFiles []string
	// HostKeyAlias, when set, is the name host keys are looked up and
	// recorded under instead of "host:port" (ssh's HostKeyAlias).
	HostKeyAlias string
	// HashKnownHosts makes HostKeyAcceptNew record host names hashed, as
	// OpenSSH's HashKnownHosts yes (Debian's default) does.
	HashKnownHosts bool
	// HostKeyAlgorithms overrides the algorithms derived from known_hosts.
	HostKeyAlgorithms []string
	// JumpHosts are dialled in order; each later hop and the target itself
	// are reached through the previous hop (ProxyJump).
	JumpHosts []Target
	// ProxyCommand, when set, is a shell command whose stdin and stdout
	// carry the connection to the first hop (ssh's ProxyCommand): run as
	// /bin/sh -c "exec COMMAND" with %h %k %n %p %r %% expanded from Host,
	// HostKeyAlias, Alias, Port and User, in its own process group, killed
	// and reaped when the dial fails or is cancelled and when the
	// connection closes. Only the first hop may have one; a Target with
	// both JumpHosts and ProxyCommand is refused, as ssh refuses it.
	ProxyCommand string
	// DialTimeout bounds one dial attempt: TCP connect, handshake and
	// authentication of every hop. 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// TCPKeepAlive is the TCP keepalive period of the socket; 0 means
	// DefaultTCPKeepAlive, negative disables TCP keepalive.
	TCPKeepAlive time.Duration
	// KeepaliveInterval is how often a caller (the pool) should probe the
	// connection with SendKeepalive; 0 leaves it to the caller.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout bounds one SendKeepalive probe; 0 means
	// DefaultKeepaliveTimeout.
	KeepaliveTimeout time.Duration
}

// Addr returns "host:port", with IPv6 hosts in brackets.
func (t Target) Addr() string {
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// String describes the target without secrets: "user@host:port", the jump
// chain, and the host key policy when it is not strict, e.g.
// "deploy@10.0.0.5:22 via ops@bastion:22 hostkey=INSECURE".
func (t Target) String() string {
	var b strings.Builder
	if t.User != "" {
		b.WriteString(t.User)
		b.WriteByte('@')
	}
	b.WriteString(t.Addr())
	for i, j := range t.JumpHosts {
		if i == 0 {
			b.WriteString(" via ")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(j.User + "@" + j.Addr())
	}
	if t.ProxyCommand != "" {
		b.WriteString(" via ProxyCommand")
	}
	if t.HostKey != HostKeyStrict {
		b.WriteString(" hostkey=" + t.HostKey.String())
	}
	return b.String()
}

// GoString is String, so %#v does not print the Auth configuration.
func (t Target) GoString() string { return "sshconn.Target(" + t.String() + ")" }

func (t Target) dialTimeout() time.Duration {
	return orDefault(t.DialTimeout, DefaultDialTimeout)
}

func (t Target) keepaliveTimeout() time.Duration {
	return orDefault(t.KeepaliveTimeout, DefaultKeepaliveTimeout)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// knownHostsFiles is every known_hosts file read for t: the user's, then
// the global ones.
func (t Target) knownHostsFiles() []string {
	return append(append([]string(nil), t.KnownHostsFiles...), t.GlobalKnownHostsFiles...)
}

// knownHostsName is the name t's host key is looked up and recorded
// under: HostKeyAlias (without a port, as ssh uses it) when set, else the
// "host:port" dialled.
func (t Target) knownHostsName(addr string) string {
	if t.HostKeyAlias != "" {
		return net.JoinHostPort(t.HostKeyAlias, strconv.Itoa(DefaultPort))
	}
	return addr
}
