package sshdtest

import "time"

// SSHDPath is where Debian's openssh-server installs sshd. sshd must be
// started by an absolute path because it re-executes itself.
const SSHDPath = "/usr/sbin/sshd"

// AcceptedEnv is the sshd_config AcceptEnv pattern: a session may set
// environment variables whose names match it (SSHPOOL_TEST, SSHPOOL_TEST_X,
// ...) with ssh.Session.Setenv.
const AcceptedEnv = "SSHPOOL_TEST*"

// Option configures a Server; pass options to Start or New.
type Option func(*options)

// options holds the settings; read-only once New has started sshd.
type options struct {
	sshdPath        string
	maxSessions     int
	maxStartups     string
	password        bool
	kbdPAM          bool
	userCA          bool
	hostCA          bool
	permitRootLogin string
	logLevel        string
	extra           []string
	startTimeout    time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{
		sshdPath:        SSHDPath,
		maxSessions:     10,
		permitRootLogin: "prohibit-password",
		logLevel:        "ERROR",
		startTimeout:    10 * time.Second,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithMaxSessions sets sshd's MaxSessions, the limit on concurrently open
// session channels per connection. The default is 10, as sshd's; 0 means no
// sessions at all (sshd still allows port forwarding), not unlimited.
func WithMaxSessions(n int) Option {
	return func(o *options) { o.maxSessions = n }
}

// WithMaxStartups sets sshd's MaxStartups, the limit on unauthenticated
// connections, as "start:rate:full" or a single number (e.g. "2"). By
// default the line is omitted and sshd's default (10:30:100) applies.
func WithMaxStartups(spec string) Option {
	return func(o *options) { o.maxStartups = spec }
}

// WithPasswordAuth turns on PasswordAuthentication (and
// KbdInteractiveAuthentication, which without PAM offers no devices, so
// only the "password" method works) and gives the login user a password,
// returned by Server.Password. It needs root: New returns ErrNeedsRoot and
// Start skips the test otherwise.
func WithPasswordAuth() Option {
	return func(o *options) { o.password = true }
}

// WithKbdInteractivePAM makes keyboard-interactive, answered through PAM,
// the only password-based method (UsePAM yes, PasswordAuthentication no):
// sshd asks "Password:" and pam_unix checks the answer against the login
// user's password, as on a stock server. sshd names its PAM service after
// its program name, so the server runs sshd through a symlink named
// PAMService and the PAM stack lives in /etc/pam.d/PAMService (auth and
// account by pam_unix, session by pam_permit, so a container without
// loginuid or systemd support still opens sessions). It implies
// WithPasswordAuth and needs root.
func WithKbdInteractivePAM() Option {
	return func(o *options) { o.password, o.kbdPAM = true, true }
}

// WithUserCA generates a user certificate authority and trusts it
// (TrustedUserCAKeys). Server.UserCA returns the CA's signer and
// Server.ClientCertSigner a signer holding a certificate for the login user,
// on a key that is not in the authorized keys file.
func WithUserCA() Option {
	return func(o *options) { o.userCA = true }
}

// WithHostCA generates a host certificate authority and gives sshd a host
// certificate it signed (HostCertificate) for the principals "127.0.0.1" and
// "localhost". Server.HostCAPublicKey returns the CA key, and the known_hosts
// file gains a matching @cert-authority line. Clients that accept
// certificate host key algorithms are then shown the certificate, not the
// plain host key; ClientConfig restricts the algorithms so that
// ssh.FixedHostKey(HostPublicKey()) still works.
func WithHostCA() Option {
	return func(o *options) { o.hostCA = true }
}

// WithPermitRootLogin sets sshd's PermitRootLogin ("yes", "no",
// "prohibit-password", "forced-commands-only"). The default is
// "prohibit-password": root may log in with the client key.
func WithPermitRootLogin(mode string) Option {
	return func(o *options) { o.permitRootLogin = mode }
}

// WithLogLevel sets sshd's LogLevel ("QUIET", "FATAL", "ERROR", "INFO",
// "VERBOSE", "DEBUG1".."DEBUG3"). The default is "ERROR"; "VERBOSE" logs
// every connection and authentication, see Server.Logs.
func WithLogLevel(level string) Option {
	return func(o *options) { o.logLevel = level }
}

// WithConfig adds lines to sshd_config, such as "ClientAliveInterval 1" or
// "LoginGraceTime 2". They are written before the package's own settings and
// so take precedence over them: for most keywords sshd keeps the first value
// it reads. Lines are not checked here; sshd -t rejects bad ones.
func WithConfig(lines ...string) Option {
	return func(o *options) { o.extra = append(o.extra, lines...) }
}

// WithStartTimeout bounds how long New waits for sshd to accept connections
// and send its banner, per attempt. The default is 10 seconds.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithSSHDPath runs the sshd binary at path (absolute) instead of SSHDPath.
func WithSSHDPath(path string) Option {
	return func(o *options) { o.sshdPath = path }
}
