package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// OpenSSHDefaults returns a Target template with OpenSSH's client defaults
// for the current user: the agent enabled, ~/.ssh/id_ed25519, id_ecdsa and
// id_rsa as optional identity files, ~/.ssh/known_hosts and known_hosts2,
// the global /etc/ssh/ssh_known_hosts and ssh_known_hosts2 (read only),
// strict host key checking. It reads no files.
func OpenSSHDefaults() Target {
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, ".ssh")
	return Target{
		Auth: Auth{
			Agent: true,
			OptionalIdentityFiles: []string{
				filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "id_ecdsa"), filepath.Join(dir, "id_rsa"),
			},
		},
		KnownHostsFiles:       []string{filepath.Join(dir, "known_hosts"), filepath.Join(dir, "known_hosts2")},
		GlobalKnownHostsFiles: []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"},
	}
}

// agentHolder opens the SSH agent socket at most once per dial and hands
// its ownership to the Client (which closes it on Close).
type agentHolder struct {
	conn   net.Conn
	client agent.ExtendedAgent
	logger *slog.Logger
}

// signers returns the agent's signers for a, or nil when the agent is not
// enabled or not reachable (logged, not fatal: identity files may work).
func (h *agentHolder) signers(ctx context.Context, a Auth) []ssh.Signer {
	if !a.Agent {
		return nil
	}
	if h.client == nil && !h.open(ctx, a) {
		return nil
	}
	s, err := h.client.Signers()
	if err != nil {
		h.logger.Warn("sshconn: agent signers unavailable", "err", err)
		return nil
	}
	return s
}

func (h *agentHolder) open(ctx context.Context, a Auth) bool {
	path := firstNonEmpty(a.AgentSocket, os.Getenv("SSH_AUTH_SOCK"))
	if path == "" {
		return false
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		h.logger.Warn("sshconn: agent unreachable", "socket", path, "err", err)
		return false
	}
	h.conn, h.client = conn, agent.NewClient(conn)
	return true
}

// close closes the agent socket if the dial failed and nothing owns it.
func (h *agentHolder) close() {
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

// authMethods builds the ssh.AuthMethods for t in OpenSSH's order.
func authMethods(ctx context.Context, t Target, ag *agentHolder) ([]ssh.AuthMethod, error) {
	files, err := loadIdentities(ctx, t.Auth)
	if err != nil {
		return nil, err
	}
	var methods []ssh.AuthMethod
	keys := func() ([]ssh.Signer, error) {
		s := append(ag.signers(ctx, t.Auth), t.Auth.Signers...)
		return append(s, files...), nil
	}
	if t.Auth.Agent || len(t.Auth.Signers)+len(files) > 0 {
		methods = append(methods, ssh.PublicKeysCallback(keys))
	}
	if src := t.Auth.Secrets; src != nil {
		methods = append(methods,
			ssh.KeyboardInteractive(kbdInteractive(ctx, t, src)),
			ssh.PasswordCallback(passwordFunc(ctx, t, src)))
	}
	if len(methods) == 0 {
		return nil, ErrNoAuthMethods
	}
	return methods, nil
}

func passwordFunc(ctx context.Context, t Target, src SecretSource) func() (string, error) {
	return func() (string, error) {
		s, err := src.Password(ctx, t)
		if err != nil {
			return "", fmt.Errorf("sshconn: password source: %w", err)
		}
		return s.Reveal(), nil
	}
}

func kbdInteractive(ctx context.Context, t Target, src SecretSource) ssh.KeyboardInteractiveChallenge {
	return func(_, _ string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i, q := range questions {
			s, err := answer(ctx, t, src, q, echos[i])
			if err != nil {
				return nil, fmt.Errorf("sshconn: keyboard-interactive source: %w", err)
			}
			answers[i] = s.Reveal()
		}
		return answers, nil
	}
}

func answer(ctx context.Context, t Target, src SecretSource, q string, echo bool) (Secret, error) {
	if ki, ok := src.(KeyboardInteractiveSource); ok {
		return ki.Answer(ctx, t, q, echo)
	}
	return src.Password(ctx, t)
}

// loadIdentities parses every identity file of a (certificates first).
func loadIdentities(ctx context.Context, a Auth) ([]ssh.Signer, error) {
	var out []ssh.Signer
	for _, f := range a.IdentityFiles {
		s, err := loadIdentity(ctx, a, f)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	for _, f := range a.OptionalIdentityFiles {
		s, err := loadIdentity(ctx, a, f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// loadIdentity returns the signer of file, preceded by its certificate
// signer when "<file>-cert.pub" exists.
func loadIdentity(ctx context.Context, a Auth, file string) ([]ssh.Signer, error) {
	pemBytes, err := os.ReadFile(file)
	if err != nil {
		return nil, &IdentityError{File: file, Err: err}
	}
	signer, err := parseIdentity(ctx, a, file, pemBytes)
	if err != nil {
		return nil, &IdentityError{File: file, Err: err}
	}
	cert, err := loadCert(file+"-cert.pub", signer)
	if err != nil {
		return nil, &IdentityError{File: file + "-cert.pub", Err: err}
	}
	if cert != nil {
		return []ssh.Signer{cert, signer}, nil
	}
	return []ssh.Signer{signer}, nil
}

func parseIdentity(ctx context.Context, a Auth, file string, pemBytes []byte) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(pemBytes)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return signer, err
	}
	pass, ok, err := passphrase(ctx, a, file)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("encrypted and no passphrase available (set Auth.Passphrase%s): %w",
			envHint(a.PassphraseEnv), missing)
	}
	return ssh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(pass.Reveal()))
}

func envHint(env string) string {
	if env == "" {
		return " or Auth.PassphraseEnv"
	}
	return " or $" + env
}

// passphrase asks a.Passphrase, then a.PassphraseEnv; ok is false when
// neither has one.
func passphrase(ctx context.Context, a Auth, file string) (Secret, bool, error) {
	if a.Passphrase != nil {
		s, err := a.Passphrase(ctx, file)
		if err != nil {
			return Secret{}, false, fmt.Errorf("passphrase source: %w", err)
		}
		if !s.IsZero() {
			return s, true, nil
		}
	}
	if a.PassphraseEnv != "" {
		if v, ok := os.LookupEnv(a.PassphraseEnv); ok {
			return NewSecret(v), true, nil
		}
	}
	return Secret{}, false, nil
}

// loadCert returns a certificate signer for path, or nil when path does not
// exist.
func loadCert(path string, signer ssh.Signer) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, err
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, errors.New("not an OpenSSH certificate")
	}
	return ssh.NewCertSigner(cert, signer)
}
