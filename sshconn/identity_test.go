package sshconn_test

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/sshconn"
)

// TestSSHDIdentitiesOnly: against sshd with MaxAuthTries 2, an agent
// holding three keys sshd does not know makes the login fail before the
// right identity file is tried; IdentitiesOnly offers only the configured
// identity (and, for an encrypted one whose passphrase is not available,
// the agent's copy of it).
func TestSSHDIdentitiesOnly(t *testing.T) {
	e := newSSHD(t, sshdtest.WithConfig("MaxAuthTries 2"))
	var agentKeys []any
	for range 3 {
		_, priv := newKey(t)
		agentKeys = append(agentKeys, priv)
	}
	sock, _ := agentSocket(t, agentKeys...)
	tgt := e.target()
	tgt.Auth.Agent, tgt.Auth.AgentSocket = true, sock
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.Auth {
		t.Fatalf("without IdentitiesOnly: err = %v, want the agent's keys to exhaust MaxAuthTries", err)
	}
	tgt.Auth.IdentitiesOnly = true
	mustRun(t, mustDial(t, tgt), "true")

	// An encrypted identity with no passphrase: the agent holds its key.
	signer, priv := newKey(t)
	e.authorize(t, signer.PublicKey())
	encFile := encryptKey(t, priv, "unknown passphrase")
	sock2, _ := agentSocket(t, append(agentKeys, priv)...)
	tgt.Auth = sshconn.Auth{Agent: true, AgentSocket: sock2, IdentitiesOnly: true, IdentityFiles: []string{encFile}}
	mustRun(t, mustDial(t, tgt), "true")
	// Without the key in the agent the missing passphrase is the error.
	tgt.Auth.AgentSocket = sock
	var idErr *sshconn.IdentityError
	if _, err := dialTarget(t, tgt); !errors.As(err, &idErr) || idErr.File != encFile {
		t.Fatalf("err = %v, want an IdentityError for %s", err, encFile)
	}
}

// TestSSHDIdentityAgentFromConfig: IdentityAgent in ssh_config picks the
// agent socket over SSH_AUTH_SOCK, and none disables the agent.
func TestSSHDIdentityAgentFromConfig(t *testing.T) {
	e := newSSHD(t)
	signer, priv := newKey(t)
	e.authorize(t, signer.PublicKey())
	sock, open := agentSocket(t, priv)
	emptySock, _ := agentSocket(t)
	t.Setenv("SSH_AUTH_SOCK", emptySock)
	cfg := "Host agent\n  IdentityAgent " + sock + "\nHost noagent\n  IdentityAgent none\nHost *\n  HostName 127.0.0.1\n" +
		"  Port " + itoa(e.srv.Port()) + "\n  User " + e.srv.User() + "\n  UserKnownHostsFile " + e.knownHosts + "\n"
	r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg), Defaults: sshconn.Target{Auth: sshconn.Auth{Agent: true}}}
	c, err := newFactory(r).DialClient(context.Background(), "agent")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustRun(t, c, "true")
	if open() != 1 {
		t.Fatalf("%d connections to the configured agent, want 1", open())
	}
	if _, err := newFactory(r).DialClient(context.Background(), "noagent"); !errors.Is(err, sshconn.ErrNoAuthMethods) {
		t.Fatalf("IdentityAgent none: err = %v, want ErrNoAuthMethods (no agent, no key)", err)
	}
}

// TestSSHDCertificateFile: a CertificateFile pairs with the identity file
// holding its key.
func TestSSHDCertificateFile(t *testing.T) {
	e := newSSHD(t, sshdtest.WithUserCA())
	signer, priv := newKey(t)
	cert := &ssh.Certificate{Key: signer.PublicKey(), CertType: ssh.UserCert, KeyId: "certfile",
		ValidPrincipals: []string{e.srv.User()}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(randReader(), e.srv.UserCA()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "elsewhere.pub")
	writeFile(t, certFile, string(ssh.MarshalAuthorizedKey(cert)))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{IdentityFiles: []string{writePlainKey(t, priv)}}
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.Auth {
		t.Fatalf("without the certificate: %v, want an auth failure (the key is not authorized)", err)
	}
	tgt.Auth.CertificateFiles = []string{certFile}
	mustRun(t, mustDial(t, tgt), "true")
}

// TestSSHDGlobalKnownHosts: a key recorded only in a global known_hosts
// file is trusted; accept-new records a new host in the user's file and
// never writes the global one; a changed key there is refused.
func TestSSHDGlobalKnownHosts(t *testing.T) {
	e := newSSHD(t)
	dir := t.TempDir()
	user, global := filepath.Join(dir, "known_hosts"), filepath.Join(dir, "ssh_known_hosts")
	writeFile(t, global, e.srv.KnownHostsLine()+"\n")
	tgt := e.target()
	tgt.KnownHostsFiles, tgt.GlobalKnownHostsFiles, tgt.HostKey = []string{user}, []string{global}, sshconn.HostKeyAcceptNew
	mustRun(t, mustDial(t, tgt), "true")
	if got := readFile(t, global); got != e.srv.KnownHostsLine()+"\n" {
		t.Fatalf("global known_hosts changed: %q", got)
	}
	other, _ := newKey(t)
	writeFile(t, global, knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr())}, other.PublicKey())+"\n")
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.HostKeyChanged || !strings.Contains(err.Error(), global) {
		t.Fatalf("changed key in the global file: %v, want failure.HostKeyChanged naming %s", err, global)
	}
}

// TestSSHDHostKeyAlias: the host key is looked up (and recorded) under
// HostKeyAlias instead of host:port.
func TestSSHDHostKeyAlias(t *testing.T) {
	e := newSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, knownhosts.Line([]string{"pinned-alias"}, e.srv.HostPublicKey())+"\n")
	tgt := e.target()
	tgt.KnownHostsFiles = []string{kh}
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.HostKeyUnknown {
		t.Fatalf("without the alias: %v, want unknown", err)
	}
	tgt.HostKeyAlias = "pinned-alias"
	mustRun(t, mustDial(t, tgt), "true")
	tgt.HostKeyAlias, tgt.HostKey = "new-alias", sshconn.HostKeyAcceptNew
	mustDial(t, tgt)
	if !strings.Contains(readFile(t, kh), "new-alias ssh-ed25519") {
		t.Fatalf("accept-new must record the key under the alias:\n%s", readFile(t, kh))
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

// encryptKey writes priv to a file encrypted with pass (ssh-keygen -p
// with one KDF round when available, as writeEncryptedKey explains).
func encryptKey(t *testing.T, priv ed25519.PrivateKey, pass string) string {
	t.Helper()
	path := writePlainKey(t, priv)
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		if out, err := exec.Command("ssh-keygen", "-p", "-q", "-a", "1", "-P", "", "-N", pass, "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -p: %v: %s", err, out)
		}
		return path
	}
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(blk)))
	return path
}
