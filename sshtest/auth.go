package sshtest

import (
	"bytes"
	"crypto/subtle"
	"errors"

	"golang.org/x/crypto/ssh"
)

var (
	errAuthFailing = errors.New("sshtest: authentication failing (FailAuth)")
	errUnknownUser = errors.New("sshtest: user not allowed")
	errBadKey      = errors.New("sshtest: public key not authorized")
	errBadPassword = errors.New("sshtest: wrong password")
)

// newSSHConfig builds the server configuration from s.cfg and s.keys.
func (s *Server) newSSHConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		ServerVersion:     "SSH-2.0-sshtest",
		PublicKeyCallback: s.checkPublicKey,
		AuthLogCallback:   s.logAuth,
	}
	if len(s.cfg.passwords) > 0 {
		cfg.PasswordCallback = s.checkPassword
		cfg.KeyboardInteractiveCallback = s.checkKeyboardInteractive
	}
	cfg.AddHostKey(s.keys.host)
	return cfg
}

// checkUser applies FailAuth and WithAllowedUsers.
func (s *Server) checkUser(meta ssh.ConnMetadata) error {
	if s.failAuth.Load() {
		return errAuthFailing
	}
	if s.cfg.users != nil && !s.cfg.users[meta.User()] {
		return errUnknownUser
	}
	return nil
}

func (s *Server) checkPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if err := s.checkUser(meta); err != nil {
		return nil, err
	}
	if s.cfg.certAuthority == nil {
		return s.authorizedKey(meta, key)
	}
	cc := &ssh.CertChecker{
		IsUserAuthority: func(auth ssh.PublicKey) bool { return sameKey(auth, s.cfg.certAuthority) },
		UserKeyFallback: s.authorizedKey,
	}
	return cc.Authenticate(meta, key)
}

// authorizedKey accepts the client key and the WithAuthorizedKey keys.
func (s *Server) authorizedKey(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if sameKey(key, s.keys.client.PublicKey()) {
		return nil, nil
	}
	for _, k := range s.cfg.authorizedKeys {
		if sameKey(key, k) {
			return nil, nil
		}
	}
	return nil, errBadKey
}

func sameKey(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

func (s *Server) checkPassword(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	if err := s.checkUser(meta); err != nil {
		return nil, err
	}
	want, ok := s.cfg.passwords[meta.User()]
	if !ok || subtle.ConstantTimeCompare([]byte(want), pw) != 1 {
		return nil, errBadPassword
	}
	return nil, nil
}

// checkKeyboardInteractive asks one "Password: " question and checks the
// answer like a password. The question is asked even for unknown users.
func (s *Server) checkKeyboardInteractive(meta ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	answers, err := client(meta.User(), "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 {
		return nil, errBadPassword
	}
	return s.checkPassword(meta, []byte(answers[0]))
}

// logAuth counts failed attempts, except the "none" probe clients send
// first.
func (s *Server) logAuth(meta ssh.ConnMetadata, method string, err error) {
	if err == nil || method == "none" {
		return
	}
	s.counters.authFailures.Add(1)
	s.cfg.logger.Debug("sshtest: auth failed", "user", meta.User(), "method", method, "err", err)
}
