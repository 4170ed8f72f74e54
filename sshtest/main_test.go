package sshtest_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds the waits in these tests; they normally end in milliseconds.
const waitFor = 5 * time.Second

// dial connects to srv with cfg and closes the client at the end of the test.
func dial(t *testing.T, srv *sshtest.Server, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	client, err := ssh.Dial("tcp", srv.Addr(), cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// run runs cmd in a new session and returns its output and Wait error.
func run(t *testing.T, client *ssh.Client, cmd string, stdin string) (stdout, stderr string, err error) {
	t.Helper()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	sess.Stdin = bytes.NewBufferString(stdin)
	err = sess.Run(cmd)
	return out.String(), errOut.String(), err
}

// eventually polls cond until it holds or waitFor has passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}
