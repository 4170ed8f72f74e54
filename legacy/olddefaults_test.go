package legacy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/sshconn"
)

// home is a temporary HOME with the client key in ~/.ssh/id_ed25519 (the
// old pool's default keys) and, when trusted, the host in
// ~/.ssh/known_hosts.
type home struct {
	dir, knownHosts string
}

func newHome(t *testing.T, e *env, trusted bool) home {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	sshDir := filepath.Join(dir, ".ssh")
	must(t, os.MkdirAll(sshDir, 0o700))
	key, err := os.ReadFile(e.keyFile)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(sshDir, "id_ed25519"), key, 0o600))
	h := home{dir: dir, knownHosts: filepath.Join(sshDir, "known_hosts")}
	if trusted {
		line, err := os.ReadFile(e.knownHosts)
		must(t, err)
		must(t, os.WriteFile(h.knownHosts, line, 0o600))
	}
	return h
}

// oldServer is a Server made as the old service made them: NewServer's
// defaults (agent on, no key path, no known_hosts path), then ID, host,
// port and users.
func (e *env) oldServer(id string) *legacy.Server {
	s := legacy.NewServer()
	s.ID, s.Name, s.Host, s.Port = id, "old-"+id, e.host, e.port
	s.RootUsername, s.AppUsername = e.rootUser, e.appUser
	return s
}

// oldDefaultProviders are the providers with the wiring's dial mapping
// (Server.Target, as providers.Registrar registers it), and the singleton
// with none at all.
func oldDefaultProviders(t *testing.T, e *env) map[string]legacy.ConnectionProvider {
	client, _ := newFlags(t, flagSet(50, false))
	resetSingleton(t)
	return map[string]legacy.ConnectionProvider{
		"singleton": legacy.GetConnectionPool(),
		"legacy":    e.legacyPool(t),
		"adapter":   adaptr(t, e),
		"router":    legacy.NewRouter(e.legacyPool(t), adaptr(t, e), client),
	}
}

// runOldDefaults checks that a Server with the old defaults connects with
// the key in ~/.ssh and the host in ~/.ssh/known_hosts (it failed "host key
// unknown"), also when another default key is encrypted or not a key (the
// old pool skipped those), with a known_hosts path set (it failed
// authentication), that
// an unknown host is recorded on first use, and that a SecurityLocked
// server's unknown host and any changed key are refused.
func runOldDefaults(t *testing.T, e *env) {
	t.Run("home-keys-and-known-hosts", func(t *testing.T) {
		newHome(t, e, true)
		for name, p := range oldDefaultProviders(t, e) {
			s := e.oldServer("home-" + name)
			if out, err := connect(t, p, s, false).ExecuteCommand("whoami"); err != nil || out != e.appUser+"\n" {
				t.Errorf("%s: whoami = %q, %v", name, out, err)
			}
		}
	})
	t.Run("unusable-default-keys", func(t *testing.T) {
		h := newHome(t, e, true)
		writeEncryptedKey(t, filepath.Join(h.dir, ".ssh", "id_rsa"), "secret")
		must(t, os.WriteFile(filepath.Join(h.dir, ".ssh", "id_ecdsa"), []byte("not a key\n"), 0o600))
		for name, p := range oldDefaultProviders(t, e) {
			s := e.oldServer("unusable-" + name)
			if out, err := connect(t, p, s, false).ExecuteCommand("whoami"); err != nil || out != e.appUser+"\n" {
				t.Errorf("%s: whoami = %q, %v", name, out, err)
			}
		}
	})
	t.Run("known-hosts-path", func(t *testing.T) {
		newHome(t, e, false)
		for name, p := range oldDefaultProviders(t, e) {
			s := e.oldServer("khpath-" + name)
			s.KnownHostsPath = e.knownHosts
			if out, err := connect(t, p, s, true).ExecuteCommand("whoami"); err != nil || out != e.rootUser+"\n" {
				t.Errorf("%s: whoami = %q, %v", name, out, err)
			}
		}
	})
	t.Run("unknown-host-recorded", func(t *testing.T) {
		h := newHome(t, e, false)
		for name, p := range oldDefaultProviders(t, e) {
			s := e.oldServer("new-" + name)
			if _, err := connect(t, p, s, false).ExecuteCommand("true"); err != nil {
				t.Errorf("%s: first use of an unknown host: %v", name, err)
			}
		}
		data, err := os.ReadFile(h.knownHosts)
		if err != nil || bytes.Count(data, []byte("\n")) != 1 {
			t.Fatalf("~/.ssh/known_hosts after first use: %q, %v (want the host recorded once)", data, err)
		}
	})
	t.Run("locked-unknown-refused", func(t *testing.T) {
		newHome(t, e, false)
		for name, p := range oldDefaultProviders(t, e) {
			s := e.oldServer("locked-" + name)
			s.SecurityLocked = true
			checkHostKeyRefused(t, name, p, s, failure.HostKeyUnknown)
		}
	})
	t.Run("changed-key-refused", func(t *testing.T) {
		h := newHome(t, e, false)
		changed, err := os.ReadFile(e.changedKey(t, "x").KnownHostsPath)
		must(t, err)
		must(t, os.WriteFile(h.knownHosts, changed, 0o600))
		for name, p := range oldDefaultProviders(t, e) {
			checkHostKeyRefused(t, name, p, e.oldServer("changed-"+name), failure.HostKeyChanged)
		}
	})
}

// writeEncryptedKey writes a fresh passphrase-protected ed25519 key to
// path (ssh-keygen with one KDF round when available: x/crypto's 16 rounds
// take seconds under -race).
func writeEncryptedKey(t *testing.T, path, pass string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", pass, "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		return
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(pass))
	must(t, err)
	must(t, os.WriteFile(path, pem.EncodeToMemory(blk), 0o600))
}

func checkHostKeyRefused(t *testing.T, name string, p legacy.ConnectionProvider, s *legacy.Server, want failure.Kind) {
	t.Helper()
	c, err := p.GetOrCreateConnection(s, false)
	if err == nil {
		c.Close()
		t.Errorf("%s: connected", name)
		return
	}
	var he *sshconn.HostKeyError
	if !errors.As(err, &he) || he.Kind != want || failure.Classify(err) != want {
		t.Errorf("%s: %v; want a host key error of kind %v", name, err, want)
	}
}

func TestOldDefaultsSSHTest(t *testing.T) { runOldDefaults(t, newEnv(t)) }

func TestOldDefaultsSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	runOldDefaults(t, newSSHDEnv(t))
}
