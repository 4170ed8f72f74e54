package legacy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// defaultIdentityFiles are the keys the old pool offered, in its order,
// after the agent's and ManualKeyPath, relative to ~/.ssh. Missing files
// are skipped.
var defaultIdentityFiles = [...]string{"id_rsa", "id_ed25519", "id_ecdsa"}

// Target returns the dial parameters of s for the role asRoot, as the old
// pool derived them, with its safety hole closed:
//
//   - user RootUsername or AppUsername, host Host, port Port (22 if zero);
//   - keys: the SSH agent's when UseSSHAgent (an unset $SSH_AUTH_SOCK is
//     skipped), then ManualKeyPath (which must be readable), then
//     ~/.ssh/id_rsa, id_ed25519 and id_ecdsa where they exist and can be
//     used (one that is encrypted, with no passphrase, or not a key is
//     skipped with a warning, as the old pool skipped it);
//   - a password from the environment variable PasswordRef
//     (sshconn.Auth.PasswordEnv: read at dial time, an unset or empty
//     variable is an error naming it), and a key passphrase from
//     KeyPassphraseRef (Auth.PassphraseEnv), when set;
//   - host keys checked against ~/.ssh/known_hosts, or KnownHostsPath when
//     set. An unknown host is accepted and its key recorded in that file on
//     first use (OpenSSH's StrictHostKeyChecking=accept-new), as the old
//     pool accepted unknown hosts; a SecurityLocked server's unknown host
//     is refused (strict). A changed or revoked key is always refused with
//     a *sshconn.HostKeyError (the old pool's hole: it accepted a changed
//     key when known_hosts was missing).
//
// ~ is $HOME, read at every call, so a dial sees the home of the moment.
// Both pools dial the same Target for the same Server (the wiring registers
// it), so a flip between them changes nothing about authentication or host
// keys.
func (s *Server) Target(asRoot bool) sshconn.Target {
	t := sshconn.Target{Host: s.Host, Port: s.EffectivePort(), User: s.User(asRoot),
		HostKey: sshconn.HostKeyAcceptNew}
	if s.SecurityLocked {
		t.HostKey = sshconn.HostKeyStrict
	}
	t.Auth.Agent = s.UseSSHAgent
	if s.ManualKeyPath != "" {
		t.Auth.IdentityFiles = []string{s.ManualKeyPath}
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		dir := filepath.Join(home, ".ssh")
		for _, f := range defaultIdentityFiles {
			t.Auth.OptionalIdentityFiles = append(t.Auth.OptionalIdentityFiles, filepath.Join(dir, f))
		}
		t.KnownHostsFiles = []string{filepath.Join(dir, "known_hosts")}
	}
	if s.KnownHostsPath != "" {
		t.KnownHostsFiles = []string{s.KnownHostsPath}
	}
	t.Auth.PassphraseEnv = s.KeyPassphraseRef
	t.Auth.PasswordEnv = s.PasswordRef
	return t
}

// dialer is the default dialer of a ConnectionPool built without
// WithFactory, and of the singleton: an sshconn factory over a registry of
// its own, to which it registers each Server's Target before the pool
// dials its key. It is both the pool's factory and its registrar.
//
// It is the one place this package uses sshconn directly: the old pool
// dialled by itself, so GetConnectionPool() and NewConnectionPool() must
// work with no set-up at all. Everything else here depends only on package
// pool's interfaces, and sshconn never imports legacy.
type dialer struct {
	reg     *sshconn.Registry
	factory *sshconn.Factory
}

// newDialer returns a dialer logging host keys recorded on first use to
// logger (slog.Default() when nil).
func newDialer(logger *slog.Logger) *dialer {
	if logger == nil {
		logger = slog.Default()
	}
	reg := sshconn.NewRegistry()
	return &dialer{reg: reg, factory: sshconn.NewFactory(reg, sshconn.WithLogger(logger))}
}

// Dial dials key's registered Target; it implements pool.ConnectionFactory.
func (d *dialer) Dial(ctx context.Context, key string) (pool.SSHClient, error) {
	return d.factory.Dial(ctx, key)
}

// RegisterServer registers s.Target(asRoot) under key; it implements
// TargetRegistrar.
func (d *dialer) RegisterServer(key string, s *Server, asRoot bool) error {
	t := s.Target(asRoot)
	t.Key = key
	d.reg.Register(key, t)
	return nil
}
