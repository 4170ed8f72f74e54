package sshtest

import (
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultHostname is the name the hostname built-in reports unless
// WithHostname sets another.
const DefaultHostname = "sshtest"

// Option configures a Server; pass options to Start or NewServer.
type Option func(*config)

// config holds the options; it is read-only once the server has started.
type config struct {
	addr           string
	handler        Handler
	hostKey        ssh.Signer
	hostname       string
	authorizedKeys []ssh.PublicKey
	passwords      map[string]string
	users          map[string]bool // nil means any user
	certAuthority  ssh.PublicKey
	maxSessions    int
	handshakeDelay time.Duration
	logger         *slog.Logger
}

func newConfig(opts []Option) *config {
	cfg := &config{
		addr:      "127.0.0.1:0",
		handler:   DefaultHandler,
		hostname:  DefaultHostname,
		passwords: map[string]string{},
	}
	for _, opt := range opts {
		opt(cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// WithAddr sets the address to listen on. The default is "127.0.0.1:0", a
// free loopback port; the port chosen is kept across Restart and RefuseNew.
func WithAddr(addr string) Option {
	return func(c *config) { c.addr = addr }
}

// WithHandler sets the handler run for exec and shell requests. The default
// (and the value used when h is nil) is DefaultHandler.
func WithHandler(h Handler) Option {
	return func(c *config) {
		if h != nil {
			c.handler = h
		}
	}
}

// WithHostKey sets the host key. By default a fresh ed25519 key is generated.
func WithHostKey(signer ssh.Signer) Option {
	return func(c *config) { c.hostKey = signer }
}

// WithHostname sets the name reported by Session.Hostname and the hostname
// built-in. The default is DefaultHostname.
func WithHostname(name string) Option {
	return func(c *config) { c.hostname = name }
}

// WithAuthorizedKey adds a public key accepted for public-key authentication
// (for any allowed user). The server's own client key (Server.ClientSigner) is
// always accepted.
func WithAuthorizedKey(pub ssh.PublicKey) Option {
	return func(c *config) { c.authorizedKeys = append(c.authorizedKeys, pub) }
}

// WithPassword accepts password pw for user, both for "password" and for
// "keyboard-interactive" authentication. Without any WithPassword option the
// server offers neither method.
func WithPassword(user, pw string) Option {
	return func(c *config) { c.passwords[user] = pw }
}

// WithAllowedUsers restricts the user names that may log in, with any method.
// By default every user name is accepted. Repeated options add users.
func WithAllowedUsers(users ...string) Option {
	return func(c *config) {
		if c.users == nil {
			c.users = map[string]bool{}
		}
		for _, u := range users {
			c.users[u] = true
		}
	}
}

// WithCertAuthority accepts user certificates signed by the CA key ca, checked
// with ssh.CertChecker: the certificate must be a user certificate, valid now,
// and list the login user among its principals (or list none).
func WithCertAuthority(ca ssh.PublicKey) Option {
	return func(c *config) { c.certAuthority = ca }
}

// WithMaxSessions sets the initial per-connection limit on concurrently open
// session channels, as sshd's MaxSessions; 0 (the default) means unlimited.
// See Server.SetMaxSessions.
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions = n }
}

// WithHandshakeDelay sets the initial delay before the SSH handshake starts
// on each new connection; 0 (the default) means none. See
// Server.SetHandshakeDelay.
func WithHandshakeDelay(d time.Duration) Option {
	return func(c *config) { c.handshakeDelay = d }
}

// WithLogger sets the logger for connection-level events (at Debug level).
// The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}
