package sshdtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"
)

// File names inside the server's directory.
const (
	hostKeyFile        = "host_ed25519_key"
	hostCertFile       = "host_ed25519_key-cert.pub"
	clientKeyFile      = "client_ed25519_key"
	authorizedKeysFile = "authorized_keys"
	userCAFile         = "user_ca.pub"
	knownHostsFile     = "known_hosts"
	configFile         = "sshd_config"
	pidFile            = "sshd.pid"
	logFile            = "sshd.log"
)

// keys is the key material of a Server.
type keys struct {
	hostSigner ssh.Signer
	hostCA     ssh.Signer // nil unless WithHostCA
	client     ssh.Signer
	userCA     ssh.Signer // nil unless WithUserCA
	clientCert ssh.Signer // nil unless WithUserCA
}

// newKeys generates the keys the options ask for and writes the files sshd
// and OpenSSH clients read into dir.
func newKeys(dir, user string, o *options) (*keys, error) {
	k := &keys{}
	var err error
	if k.hostSigner, err = writeKey(filepath.Join(dir, hostKeyFile), "sshdtest host"); err != nil {
		return nil, err
	}
	if k.client, err = writeKey(filepath.Join(dir, clientKeyFile), "sshdtest client"); err != nil {
		return nil, err
	}
	if err := writePublic(filepath.Join(dir, authorizedKeysFile), k.client.PublicKey()); err != nil {
		return nil, err
	}
	if o.hostCA {
		if err := k.addHostCA(dir); err != nil {
			return nil, err
		}
	}
	if o.userCA {
		if err := k.addUserCA(dir, user); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// addHostCA creates a host CA and the host certificate sshd presents.
func (k *keys) addHostCA(dir string) error {
	var err error
	if k.hostCA, err = newSigner(); err != nil {
		return err
	}
	cert := &ssh.Certificate{
		Key:             k.hostSigner.PublicKey(),
		CertType:        ssh.HostCert,
		KeyId:           "sshdtest host",
		ValidPrincipals: []string{"127.0.0.1", "localhost"},
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, k.hostCA); err != nil {
		return fmt.Errorf("sshdtest: sign host certificate: %w", err)
	}
	return writePublic(filepath.Join(dir, hostCertFile), cert)
}

// addUserCA creates a user CA that sshd trusts and a client certificate for
// user on a key of its own.
func (k *keys) addUserCA(dir, user string) error {
	var err error
	if k.userCA, err = newSigner(); err != nil {
		return err
	}
	if err := writePublic(filepath.Join(dir, userCAFile), k.userCA.PublicKey()); err != nil {
		return err
	}
	key, err := newSigner()
	if err != nil {
		return err
	}
	cert := &ssh.Certificate{
		Key:             key.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "sshdtest client",
		ValidPrincipals: []string{user},
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     ssh.CertTimeInfinity,
		Permissions: ssh.Permissions{Extensions: map[string]string{
			"permit-agent-forwarding": "",
			"permit-port-forwarding":  "",
			"permit-pty":              "",
			"permit-user-rc":          "",
		}},
	}
	if err := cert.SignCert(rand.Reader, k.userCA); err != nil {
		return fmt.Errorf("sshdtest: sign user certificate: %w", err)
	}
	k.clientCert, err = ssh.NewCertSigner(cert, key)
	return err
}

// newSigner generates an ed25519 key.
func newSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: generate key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// writeKey generates an ed25519 key and writes it to path in OpenSSH PEM
// format, mode 0600 (sshd and ssh refuse private keys others can read).
func writeKey(path, comment string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: marshal key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("sshdtest: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return signer, writePublic(path+".pub", signer.PublicKey())
}

// writePublic writes pub in authorized_keys format, mode 0644: sshd reads
// the authorized keys file as the login user.
func writePublic(path string, pub ssh.PublicKey) error {
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	return nil
}
