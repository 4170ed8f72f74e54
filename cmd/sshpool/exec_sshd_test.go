package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/sshdtest"
)

// TestExecExitStatusOnSSHD: against a real sshd reached through
// ~/.ssh/config, exec exits with the remote status, and with 255 (as ssh
// does) when the remote command was killed by a signal, when it exits
// 255 itself, and on every SSH-level failure: a changed host key, a
// refused connection, a failing ProxyCommand, a configuration sshconn
// refuses.
func TestExecExitStatusOnSSHD(t *testing.T) {
	srv := sshdtest.Start(t)
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The server's name with another key: a changed host key.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	otherKH := filepath.Join(home, "other_known_hosts")
	name := strings.Fields(srv.KnownHostsLine())[0]
	if err := os.WriteFile(otherKH, []byte(name+" "+string(ssh.MarshalAuthorizedKey(other))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := srv.OpenSSHConfig("box") +
		fmt.Sprintf("Host changedkey\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
			srv.Host(), srv.Port(), srv.User(), srv.ClientKeyPath(), otherKH) +
		"Host refused\n  HostName 127.0.0.1\n  Port 1\n" +
		"Host failingproxy\n  HostName 127.0.0.1\n  ProxyCommand sh -c 'echo no route >&2; exit 7'\n" +
		"Host canonical\n  CanonicalizeHostname yes\n"
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	cfgFile := writeTemp(t, "c.yaml", "pool:\n  max_retries: -1\n  dial_timeout: 10s\n")
	for _, tc := range []struct {
		key, command string
		code         int
		stderr       string
	}{
		{"box", "echo ok", 0, ""},
		{"box", "exit 3", 3, ""},
		{"box", "exit 255", 255, ""},
		{"box", "kill -KILL $$", 255, "signal KILL"},
		{"changedkey", "true", 255, "host-key-changed"},
		{"refused", "true", 255, "refused"},
		{"failingproxy", "true", 255, "exited with status 7"},
		{"canonical", "true", 255, "CanonicalizeHostname"},
	} {
		code, stdout, stderr := runCLI(t, "exec", "--config", cfgFile, tc.key, "--", tc.command)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("exec %s -- %q: exit %d, stdout %q, stderr %q; want %d and stderr containing %q",
				tc.key, tc.command, code, stdout, stderr, tc.code, tc.stderr)
		}
	}
}
