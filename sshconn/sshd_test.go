package sshconn_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/internal/testenv"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// sshdEnv is a private real OpenSSH sshd and a known_hosts file for it.
// sshdtest.Start skips when sshd is missing, and fails when CI=true.
type sshdEnv struct {
	srv        *sshdtest.Server
	knownHosts string
}

func newSSHD(t testing.TB, opts ...sshdtest.Option) *sshdEnv {
	t.Helper()
	srv := sshdtest.Start(t, opts...)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, kh, srv.KnownHostsLine()+"\n")
	return &sshdEnv{srv: srv, knownHosts: kh}
}

func (e *sshdEnv) target() sshconn.Target {
	return sshconn.Target{
		Host: e.srv.Host(), Port: e.srv.Port(), User: e.srv.User(),
		Auth:            sshconn.Auth{IdentityFiles: []string{e.srv.ClientKeyPath()}},
		KnownHostsFiles: []string{e.knownHosts},
		DialTimeout:     20 * time.Second,
	}
}

// authorize appends pub to sshd's authorized_keys (read per connection).
func (e *sshdEnv) authorize(t testing.TB, pub ssh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(e.srv.Dir(), "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(pub)); err != nil {
		t.Fatal(err)
	}
}

func TestSSHDAuthMethods(t *testing.T) {
	e := newSSHD(t, sshdtest.WithUserCA())
	t.Run("keyfile", func(t *testing.T) {
		c := mustDial(t, e.target())
		if got := mustRun(t, c, "id -un"); got != e.srv.User() {
			t.Fatalf("id -un = %q", got)
		}
	})
	t.Run("encrypted", func(t *testing.T) {
		const pass = "sshd passphrase"
		_, priv := newKey(t)
		keyFile := filepath.Join(t.TempDir(), "id_enc")
		e.authorize(t, writeEncryptedKey(t, keyFile, priv, pass))
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{keyFile},
			Passphrase: func(context.Context, string) (sshconn.Secret, error) { return sshconn.NewSecret(pass), nil }}
		mustDial(t, tgt)
		tgt.Auth.Passphrase = nil
		_, err := dialTarget(t, tgt)
		var idErr *sshconn.IdentityError
		if !errors.As(err, &idErr) || idErr.File != keyFile || failure.Classify(err) != failure.Config {
			t.Fatalf("missing passphrase: %v", err)
		}
	})
	t.Run("cert", func(t *testing.T) {
		signer, priv := newKey(t)
		cert := &ssh.Certificate{Key: signer.PublicKey(), CertType: ssh.UserCert, KeyId: "sshconn",
			ValidPrincipals: []string{e.srv.User()}, ValidBefore: ssh.CertTimeInfinity,
			Permissions: ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}}}
		if err := cert.SignCert(randReader(), e.srv.UserCA()); err != nil {
			t.Fatal(err)
		}
		keyFile := writePlainKey(t, priv)
		writeFile(t, keyFile+"-cert.pub", string(ssh.MarshalAuthorizedKey(cert)))
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{keyFile}}
		mustRun(t, mustDial(t, tgt), "true")
	})
	t.Run("agent", func(t *testing.T) {
		signer, priv := newKey(t)
		e.authorize(t, signer.PublicKey())
		serveAgent(t, priv)
		tgt := e.target()
		tgt.Auth = sshconn.Auth{Agent: true}
		mustRun(t, mustDial(t, tgt), "true")
	})
	t.Run("rejected", func(t *testing.T) {
		signer, priv := newKey(t)
		_ = signer
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{writePlainKey(t, priv)}}
		attempts := 0
		_, err := dialTarget(t, tgt, sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
		var authErr *sshconn.AuthError
		if !errors.As(err, &authErr) || failure.Classify(err) != failure.Auth || attempts != 1 {
			t.Fatalf("err = %v attempts = %d, want one *AuthError", err, attempts)
		}
		if !containsAll(authErr.Methods, "publickey") {
			t.Fatalf("methods = %v", authErr.Methods)
		}
	})
}

func TestSSHDPassword(t *testing.T) {
	e := newSSHD(t, sshdtest.WithPasswordAuth())
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Secrets: sshconn.StaticPassword(sshconn.NewSecret(e.srv.Password()))}
	// sshd without PAM offers keyboard-interactive with no devices: the
	// attempt fails and the password method follows.
	mustRun(t, mustDial(t, tgt), "true")

	tgt.Auth.Secrets = sshconn.StaticPassword(sshconn.NewSecret("wrong-" + e.srv.Password()))
	_, err := dialTarget(t, tgt)
	if failure.Classify(err) != failure.Auth || strings.Contains(err.Error(), e.srv.Password()) {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestSSHDHostKeys(t *testing.T) {
	e := newSSHD(t)
	t.Run("unknown", func(t *testing.T) {
		tgt := e.target()
		tgt.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "kh")}
		_, err := dialTarget(t, tgt)
		if failure.Classify(err) != failure.HostKeyUnknown || !strings.Contains(err.Error(), ssh.FingerprintSHA256(e.srv.HostPublicKey())) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("accept-new", func(t *testing.T) {
		tgt := e.target()
		kh := filepath.Join(t.TempDir(), "kh")
		tgt.KnownHostsFiles, tgt.HostKey = []string{kh}, sshconn.HostKeyAcceptNew
		mustDial(t, tgt)
		if got := readFile(t, kh); got != e.srv.KnownHostsLine()+"\n" {
			t.Fatalf("known_hosts = %q", got)
		}
	})
	t.Run("changed", func(t *testing.T) {
		other, _ := newKey(t)
		tgt := e.target()
		kh := filepath.Join(t.TempDir(), "kh")
		writeFile(t, kh, knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr())}, other.PublicKey())+"\n")
		tgt.KnownHostsFiles = []string{kh}
		if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.HostKeyChanged {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSSHDHostCertificate(t *testing.T) {
	e := newSSHD(t, sshdtest.WithHostCA())
	ca := "@cert-authority " + knownhosts.Normalize(e.srv.Addr()) + " " + string(ssh.MarshalAuthorizedKey(e.srv.HostCAPublicKey()))
	writeFile(t, e.knownHosts, ca)
	mustRun(t, mustDial(t, e.target()), "true")
}

// TestSSHDHostKeyAlgorithmsFromKnownHosts is the golang/go#29286 case: sshd
// has an ECDSA and an ed25519 host key and known_hosts records only one of
// them. Without HostKeyAlgorithms from known_hosts, x/crypto negotiates its
// own preference and reports a key mismatch for one of the two.
func TestSSHDHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	dir := t.TempDir()
	ecdsaKey := filepath.Join(dir, "host_ecdsa_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsaKey).CombinedOutput(); err != nil {
		testenv.Missing(t, "ssh-keygen: %v %s", err, out)
	}
	e := newSSHD(t, sshdtest.WithConfig("HostKey "+ecdsaKey))
	ecdsaPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, ecdsaKey+".pub")))
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []ssh.PublicKey{ecdsaPub, e.srv.HostPublicKey()} {
		t.Run(pub.Type(), func(t *testing.T) {
			writeFile(t, e.knownHosts, knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr())}, pub)+"\n")
			mustRun(t, mustDial(t, e.target()), "true")
		})
	}
}

func TestSSHDExecAndSignals(t *testing.T) {
	e := newSSHD(t)
	c := mustDial(t, e.target())
	res, err := c.Run(context.Background(), "echo out; echo err >&2; exit 3")
	var exitErr *pool.ExitError
	if !errors.As(err, &exitErr) || res.ExitStatus != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("res %+v err %v", res, err)
	}
	res, err = c.Exec(context.Background(), pool.Command{Cmd: "cat; printenv SSHPOOL_TEST",
		Stdin: strings.NewReader("in\n"), Env: map[string]string{"SSHPOOL_TEST": "v", "REFUSED_VAR": "x"}})
	if err != nil || string(res.Stdout) != "in\nv\n" {
		t.Fatalf("stdin/env: %q %v", res.Stdout, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err = c.Exec(ctx, pool.Command{Cmd: "sleep 60", KillGrace: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > promptly {
		t.Fatalf("cancelled sleep: %v after %v", err, time.Since(start))
	}
	t.Logf("cancelled sleep result: signal %q status %d", res.Signal, res.ExitStatus)
	if got := mustRun(t, c, "echo alive"); got != "alive" {
		t.Fatal("connection must survive a cancelled command")
	}
}

func TestSSHDSessionLimit(t *testing.T) {
	e := newSSHD(t, sshdtest.WithMaxSessions(1))
	c := mustDial(t, e.target())
	s, err := c.NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// OpenSSH 9.2 refuses with ConnectionFailed "open failed" (not
	// Prohibited, as newer notes claim); either way it is a session limit.
	_, err = c.NewSession(context.Background())
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || failure.Classify(err) != failure.SessionLimit || !c.Alive() {
		t.Fatalf("err = %v (kind %v)", err, failure.Classify(err))
	}
	t.Logf("sshd refused the session with reason %v", oce.Reason)
}

func TestSSHDProxyJump(t *testing.T) {
	e := newSSHD(t)
	final := newEnv(t, sshtest.WithHostname("behind-sshd"))
	tgt := final.target()
	tgt.JumpHosts = []sshconn.Target{e.target()}
	c := mustDial(t, tgt)
	if got := mustRun(t, c, "hostname"); got != "behind-sshd" {
		t.Fatalf("hostname = %q", got)
	}
	// And the other way round: sshtest as the jump host to sshd.
	jump := newEnv(t)
	tgt = e.target()
	tgt.JumpHosts = []sshconn.Target{jump.target()}
	mustRun(t, mustDial(t, tgt), "true")
}

func TestSSHDSSHConfigAlias(t *testing.T) {
	e := newSSHD(t)
	cfg := "Host real\n  HostName 127.0.0.1\n  Port " + strconv.Itoa(e.srv.Port()) + "\n  User %u\n  IdentityFile " +
		e.srv.ClientKeyPath() + "\n  UserKnownHostsFile " + e.knownHosts + "\n"
	cfg = strings.Replace(cfg, "%u", e.srv.User(), 1)
	c, err := newFactory(&sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg)}).DialClient(context.Background(), "real")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustRun(t, c, "true")
}

// promptRecorder answers keyboard-interactive prompts with one password and
// records the prompts; Password (the "password" method) is never expected.
type promptRecorder struct {
	password string
	mu       sync.Mutex
	prompts  []string
}

func (r *promptRecorder) Password(context.Context, sshconn.Target) (sshconn.Secret, error) {
	return sshconn.Secret{}, errors.New("password method used; want keyboard-interactive")
}

func (r *promptRecorder) Answer(_ context.Context, _ sshconn.Target, q string, _ bool) (sshconn.Secret, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prompts = append(r.prompts, q)
	return sshconn.NewSecret(r.password), nil
}

// TestSSHDKeyboardInteractivePAM: against sshd whose only password method
// is keyboard-interactive through PAM, the answer to PAM's prompt logs in;
// a wrong one is one failure.Auth failure (one prompt, no retry) whose error
// does not carry the answer.
func TestSSHDKeyboardInteractivePAM(t *testing.T) {
	e := newSSHD(t, sshdtest.WithKbdInteractivePAM())
	tgt := e.target()
	rec := &promptRecorder{password: e.srv.Password()}
	tgt.Auth = sshconn.Auth{Secrets: rec}
	mustRun(t, mustDial(t, tgt), "true")
	if len(rec.prompts) != 1 || !strings.Contains(strings.ToLower(rec.prompts[0]), "password") {
		t.Fatalf("prompts %q, want PAM's one password prompt", rec.prompts)
	}

	wrong := &promptRecorder{password: "wrong-" + e.srv.Password()}
	tgt.Auth = sshconn.Auth{Secrets: wrong}
	_, err := dialTarget(t, tgt)
	if failure.Classify(err) != failure.Auth || strings.Contains(err.Error(), wrong.password) {
		t.Fatalf("wrong answer: err = %v, want failure.Auth without the answer", err)
	}
	if len(wrong.prompts) != 1 {
		t.Errorf("wrong answer given %d times, want once (no retry into a lockout)", len(wrong.prompts))
	}
}
