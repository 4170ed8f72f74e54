package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// clientTimeout bounds ssh.Dial in configs built by ClientConfig, so that a
// broken test fails instead of hanging.
const clientTimeout = 10 * time.Second

// keys holds the server's host key and generated client key; it is
// immutable after Start.
type keys struct {
	host      ssh.Signer
	client    ssh.Signer
	clientPEM []byte
}

func newKeys(host ssh.Signer) (keys, error) {
	var k keys
	var err error
	if host == nil {
		if host, _, err = generateKey("sshtest host key"); err != nil {
			return k, fmt.Errorf("sshtest: host key: %w", err)
		}
	}
	k.host = host
	if k.client, k.clientPEM, err = generateKey("sshtest client key"); err != nil {
		return k, fmt.Errorf("sshtest: client key: %w", err)
	}
	return k, nil
}

// generateKey returns a new ed25519 signer and its private key in OpenSSH
// PEM format.
func generateKey(comment string) (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}

// HostKey returns the server's public host key. It does not change on
// Restart.
func (s *Server) HostKey() ssh.PublicKey { return s.keys.host.PublicKey() }

// KnownHostsLine returns a known_hosts line for the server's address and host
// key, such as "[127.0.0.1]:40123 ssh-ed25519 AAAA...", without a trailing
// newline.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
}

// ClientSigner returns the generated ed25519 client key, which the server
// accepts for every allowed user.
func (s *Server) ClientSigner() ssh.Signer { return s.keys.client }

// ClientKeyPEM returns the client key's private key as an unencrypted
// OpenSSH-format PEM block ("-----BEGIN OPENSSH PRIVATE KEY-----"), ready to
// be written to an identity file. The caller must not modify it.
func (s *Server) ClientKeyPEM() []byte { return s.keys.clientPEM }

// WriteClientFiles writes what a client configured by files needs into
// dir: the client key as the identity file "id" (mode 0600) and a
// known_hosts file naming the server, and returns their paths.
func (s *Server) WriteClientFiles(dir string) (identityFile, knownHostsFile string, err error) {
	identityFile, knownHostsFile = filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(identityFile, s.keys.clientPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("sshtest: %w", err)
	}
	if err := os.WriteFile(knownHostsFile, []byte(s.KnownHostsLine()+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("sshtest: %w", err)
	}
	return identityFile, knownHostsFile, nil
}

// ClientAuthorizedKey returns the client public key as an authorized_keys
// line ("ssh-ed25519 AAAA..."), without a trailing newline.
func (s *Server) ClientAuthorizedKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.keys.client.PublicKey())))
}

// ClientConfig returns a client configuration for user that authenticates
// with the client key and accepts only the server's host key
// (ssh.FixedHostKey). Its Timeout, used by ssh.Dial, is 10 seconds.
func (s *Server) ClientConfig(user string) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.keys.client)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey()),
		Timeout:         clientTimeout,
	}
}
