package sshconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

// newKey returns a fresh ed25519 signer and its private key.
func newKey(t testing.TB) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// writeEncryptedKey writes priv as an encrypted OpenSSH-format key. The
// bcrypt KDF at x/crypto's 16 rounds takes seconds under -race, so
// ssh-keygen with one round is used when available; the format is the same.
func writeEncryptedKey(t testing.TB, path string, priv ed25519.PrivateKey, pass string) ssh.PublicKey {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err == nil {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", pass, "-C", "test", "-f", path).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(readFile(t, path+".pub")))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(pem.EncodeToMemory(blk)))
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// legacyEncryptedKey returns a fresh ECDSA key as a legacy encrypted PEM
// ("Proc-Type: 4,ENCRYPTED") and its public key.
func legacyEncryptedKey(t testing.TB, pass string) ([]byte, ssh.PublicKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 legacy encrypted PEM is what older keys look like
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte(pass), x509.PEMCipherAES256) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(blk), pub
}

func TestAuthIdentityFile(t *testing.T) {
	e := newEnv(t)
	c := mustDial(t, e.target())
	if got := mustRun(t, c, "whoami"); got != "alice" {
		t.Fatalf("whoami = %q", got)
	}
}

func TestAuthInMemorySigner(t *testing.T) {
	e := newEnv(t)
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Signers: []ssh.Signer{e.srv.ClientSigner()}}
	mustDial(t, tgt)
}

func TestAuthEncryptedKey(t *testing.T) {
	const pass = "correct horse battery staple"
	_, priv := newKey(t)
	keyFile := filepath.Join(t.TempDir(), "id_enc")
	pub := writeEncryptedKey(t, keyFile, priv, pass)
	ecPEM, ecPub := legacyEncryptedKey(t, pass)
	e := newEnv(t, sshtest.WithAuthorizedKey(pub), sshtest.WithAuthorizedKey(ecPub))
	// A legacy encrypted PEM key decrypts fast; the env and wrong cases use it.
	ecFile := filepath.Join(e.dir, "id_enc_ec")
	writeFile(t, ecFile, string(ecPEM))

	t.Run("callback", func(t *testing.T) {
		tgt := e.target()
		var asked string
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{keyFile},
			Passphrase: func(_ context.Context, file string) (sshconn.Secret, error) {
				asked = file
				return sshconn.NewSecret(pass), nil
			}}
		mustDial(t, tgt)
		if asked != keyFile {
			t.Fatalf("passphrase asked for %q, want %q", asked, keyFile)
		}
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv("SSHCONN_TEST_PASSPHRASE", pass)
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{ecFile}, PassphraseEnv: "SSHCONN_TEST_PASSPHRASE"}
		mustDial(t, tgt)
	})
	t.Run("missing", func(t *testing.T) {
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{keyFile}, PassphraseEnv: "SSHCONN_TEST_UNSET_VAR"}
		_, err := dialTarget(t, tgt)
		var idErr *sshconn.IdentityError
		var missing *ssh.PassphraseMissingError
		if !errors.As(err, &idErr) || idErr.File != keyFile || !errors.As(err, &missing) {
			t.Fatalf("err = %v, want IdentityError for %s wrapping PassphraseMissingError", err, keyFile)
		}
		if !strings.Contains(err.Error(), keyFile) || failure.Classify(err) != failure.Config {
			t.Fatalf("err %q (kind %v) must name the file and be failure.Config", err, failure.Classify(err))
		}
		if e.srv.Stats().ConnsAccepted != 2 {
			t.Fatalf("a config error must not reach the server: %d conns", e.srv.Stats().ConnsAccepted)
		}
	})
	t.Run("wrong", func(t *testing.T) {
		tgt := e.target()
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{ecFile},
			Passphrase: func(context.Context, string) (sshconn.Secret, error) { return sshconn.NewSecret("nope"), nil }}
		_, err := dialTarget(t, tgt)
		if failure.Classify(err) != failure.Config || strings.Contains(err.Error(), "nope") {
			t.Fatalf("err = %v (kind %v)", err, failure.Classify(err))
		}
	})
}

func TestAuthCertificate(t *testing.T) {
	ca, _ := newKey(t)
	user, priv := newKey(t)
	e := newEnv(t, sshtest.WithCertAuthority(ca.PublicKey()))
	cert := &ssh.Certificate{Key: user.PublicKey(), CertType: ssh.UserCert, KeyId: "alice",
		ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(e.dir, "id_cert")
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, string(pem.EncodeToMemory(blk)))
	writeFile(t, keyFile+"-cert.pub", string(ssh.MarshalAuthorizedKey(cert)))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{IdentityFiles: []string{keyFile}}
	mustDial(t, tgt)

	// Without the certificate the bare key is not authorised.
	writeFile(t, keyFile+"-cert.pub", "")
	if _, err := dialTarget(t, tgt); err == nil {
		t.Fatal("a bad certificate file must fail")
	}
}

// serveAgent serves keyring on a unix socket in a temp dir, points
// SSH_AUTH_SOCK at it, and returns the number of agent connections open.
func serveAgent(t *testing.T, keys ...any) (open func() int64) {
	t.Helper()
	sock, open := agentSocket(t, keys...)
	t.Setenv("SSH_AUTH_SOCK", sock)
	return open
}

// agentSocket serves keys on a unix socket in a temp dir and returns its
// path and the number of agent connections open.
func agentSocket(t *testing.T, keys ...any) (string, func() int64) {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var active atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			active.Add(1)
			wg.Go(func() { _ = agent.ServeAgent(keyring, c); c.Close(); active.Add(-1) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return sock, active.Load
}

func TestAuthAgent(t *testing.T) {
	signer, priv := newKey(t)
	e := newEnv(t, sshtest.WithAuthorizedKey(signer.PublicKey()))
	open := serveAgent(t, priv)
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Agent: true}
	c := mustDial(t, tgt)
	mustRun(t, c, "true")
	if open() != 1 {
		t.Fatalf("%d agent connections open during the client's life, want 1", open())
	}
	c.Close()
	waitFor(t, func() bool { return open() == 0 }, "Close must close the agent socket")

	// A failed dial closes the agent socket too.
	e.srv.FailAuth(true)
	if _, err := dialTarget(t, tgt); err == nil {
		t.Fatal("want an auth failure")
	}
	waitFor(t, func() bool { return open() == 0 }, "a failed dial must close the agent socket")
}

func TestAuthAgentUnreachableFallsBackToFiles(t *testing.T) {
	e := newEnv(t)
	t.Setenv("SSH_AUTH_SOCK", filepath.Join(t.TempDir(), "missing.sock"))
	tgt := e.target()
	tgt.Auth.Agent = true
	mustDial(t, tgt)
}

// TestAuthAgentStuckBoundedByContext: an agent that accepts the
// connection and never answers cannot hold a dial past its context (the
// key list request fails when it ends).
func TestAuthAgentStuckBoundedByContext(t *testing.T) {
	e := newEnv(t)
	sock := filepath.Join(t.TempDir(), "stuck.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	tgt := e.target()
	tgt.Auth.Agent, tgt.Auth.AgentSocket = true, sock
	reg := sshconn.NewRegistry()
	reg.Register("k", tgt)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := newFactory(reg, sshconn.WithMaxRetries(0)).DialClient(ctx, "k")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial = %v, want the context's deadline", err)
		}
	case <-time.After(promptly):
		cancel()
		t.Fatalf("the dial still waits on the agent %v after its context ended", promptly)
	}
}

func TestAuthPasswordAndKeyboardInteractive(t *testing.T) {
	const pw = "s3cr3t-pw-Zq9"
	e := newEnv(t, sshtest.WithPassword("alice", pw))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Secrets: sshconn.StaticPassword(sshconn.NewSecret(pw))}
	mustDial(t, tgt) // keyboard-interactive is offered before password

	tgt.Auth.Secrets = passwordOnly{pw: pw}
	mustDial(t, tgt)
}

// TestAuthPasswordEnv: Auth.PasswordEnv authenticates with the variable's
// value, read during the handshake; an unset or empty variable fails the
// dial once (an *AuthError wrapping ErrPasswordEnv) with an error naming
// the variable; a wrong value is refused without being shown; a key that
// authenticates never needs the variable; Secrets, when set, is asked
// instead.
func TestAuthPasswordEnv(t *testing.T) {
	const pw, env = "env-s3cr3t-Qx7", "SSHCONN_TEST_PASSWORD"
	e := newEnv(t, sshtest.WithPassword("alice", pw))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{PasswordEnv: env}
	if s := tgt.Auth.String(); s != "Auth{password $"+env+"}" {
		t.Errorf("String = %q", s)
	}
	t.Setenv(env, pw)
	mustDial(t, tgt)

	for _, tt := range []struct {
		name, want string
		set        func()
	}{
		{"unset", "$" + env + " is not set", func() { os.Unsetenv(env) }},
		{"empty", "$" + env + " is empty", func() { t.Setenv(env, "") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(env, pw) // restored after the test
			tt.set()
			attempts := 0
			_, err := dialTarget(t, tgt, sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
			var authErr *sshconn.AuthError
			if !errors.As(err, &authErr) || !errors.Is(err, sshconn.ErrPasswordEnv) || attempts != 1 {
				t.Fatalf("err = %v (%d attempts), want one *AuthError wrapping ErrPasswordEnv", err, attempts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}

	t.Setenv(env, "wrong-Zk81")
	_, err := dialTarget(t, tgt)
	var authErr *sshconn.AuthError
	if !errors.As(err, &authErr) || errors.Is(err, sshconn.ErrPasswordEnv) || strings.Contains(err.Error(), "wrong-Zk81") {
		t.Errorf("wrong password: %v, want an *AuthError without the value", err)
	}

	os.Unsetenv(env)
	keyed := e.target() // the key authenticates first: the variable is never read
	keyed.Auth.PasswordEnv = env
	mustDial(t, keyed)

	withSecrets := tgt
	withSecrets.Auth.Secrets = sshconn.StaticPassword(sshconn.NewSecret(pw))
	mustDial(t, withSecrets) // Secrets asked, not the unset variable
}

// passwordOnly fails keyboard-interactive prompts so the dial must use the
// password method.
type passwordOnly struct{ pw string }

func (p passwordOnly) Password(context.Context, sshconn.Target) (sshconn.Secret, error) {
	return sshconn.NewSecret(p.pw), nil
}

func (p passwordOnly) Answer(context.Context, sshconn.Target, string, bool) (sshconn.Secret, error) {
	return sshconn.NewSecret("wrong"), nil
}

func TestAuthFailureIsTypedAndNotRetried(t *testing.T) {
	const pw = "hunter2-Very-Secret"
	e := newEnv(t, sshtest.WithPassword("alice", "other"))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Secrets: sshconn.StaticPassword(sshconn.NewSecret(pw))}
	attempts := 0
	_, err := dialTarget(t, tgt, sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
	var authErr *sshconn.AuthError
	if !errors.As(err, &authErr) {
		t.Fatalf("err = %v, want *AuthError", err)
	}
	if failure.Classify(err) != failure.Auth || attempts != 1 || e.srv.Stats().ConnsAccepted != 1 {
		t.Fatalf("kind %v, attempts %d, conns %d; want auth, 1, 1", failure.Classify(err), attempts, e.srv.Stats().ConnsAccepted)
	}
	if authErr.User != "alice" || authErr.Addr != e.srv.Addr() || !containsAll(authErr.Methods, "password", "keyboard-interactive") {
		t.Fatalf("AuthError = %+v", authErr)
	}
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "alice@"+e.srv.Addr()) {
		t.Fatalf("error %q leaks the secret or misses user@host", err)
	}
}

func TestAuthFailAuthServerOneAttempt(t *testing.T) {
	e := newEnv(t)
	e.srv.FailAuth(true)
	attempts := 0
	_, err := dialTarget(t, e.target(), sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
	var de *sshconn.DialError
	if !errors.As(err, &de) || de.Attempt != 1 || attempts != 1 || failure.Classify(err) != failure.Auth {
		t.Fatalf("err = %v attempts = %d, want one auth failure", err, attempts)
	}
	if got := e.srv.Stats().ConnsAccepted; got != 1 {
		t.Fatalf("server saw %d connections, want 1", got)
	}
}

func TestAuthNoMethods(t *testing.T) {
	e := newEnv(t)
	tgt := e.target()
	tgt.Auth = sshconn.Auth{}
	_, err := dialTarget(t, tgt)
	if !errors.Is(err, sshconn.ErrNoAuthMethods) || failure.Classify(err) != failure.Config {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthOptionalIdentityFilesSkipMissing(t *testing.T) {
	e := newEnv(t)
	tgt := e.target()
	tgt.Auth = sshconn.Auth{OptionalIdentityFiles: []string{filepath.Join(e.dir, "nope"), e.keyFile}}
	mustDial(t, tgt)
	tgt.Auth = sshconn.Auth{IdentityFiles: []string{filepath.Join(e.dir, "nope")}}
	_, err := dialTarget(t, tgt)
	var idErr *sshconn.IdentityError
	if !errors.As(err, &idErr) || failure.Classify(err) != failure.Config {
		t.Fatalf("missing required identity: err = %v", err)
	}
}

// TestAuthOptionalIdentityFilesSkipUnusable: optional identity files (the
// default ~/.ssh/id_* keys) that cannot be used, an encrypted key with no
// passphrase and a file that is not a key, are skipped with a warning
// naming them, as ssh skips its default identities, and the next file
// authenticates; the same files given as IdentityFiles fail the dial.
func TestAuthOptionalIdentityFilesSkipUnusable(t *testing.T) {
	e := newEnv(t)
	_, priv := newKey(t)
	encrypted := filepath.Join(e.dir, "id_rsa")
	writeEncryptedKey(t, encrypted, priv, "secret")
	garbage := filepath.Join(e.dir, "id_ecdsa")
	writeFile(t, garbage, "not a key\n")
	var logs logBuffer
	tgt := e.target()
	tgt.Auth = sshconn.Auth{OptionalIdentityFiles: []string{encrypted, garbage, e.keyFile}}
	mustRun(t, mustDial(t, tgt, sshconn.WithLogger(logs.logger())), "true")
	for _, f := range []string{encrypted, garbage} {
		if !strings.Contains(logs.String(), "optional identity file skipped") || !strings.Contains(logs.String(), f) {
			t.Errorf("skipping %s was not logged: %s", f, logs.String())
		}
	}
	for _, f := range []string{encrypted, garbage} {
		tgt.Auth = sshconn.Auth{IdentityFiles: []string{f, e.keyFile}}
		_, err := dialTarget(t, tgt)
		var idErr *sshconn.IdentityError
		if !errors.As(err, &idErr) || idErr.File != f || failure.Classify(err) != failure.Config {
			t.Errorf("unusable required identity %s: err = %v", f, err)
		}
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

var _ = time.Second
