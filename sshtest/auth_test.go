package sshtest_test

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshtest"
)

// tryDial reports the error of a dial with cfg, closing any client.
func tryDial(srv *sshtest.Server, cfg *ssh.ClientConfig) error {
	client, err := ssh.Dial("tcp", srv.Addr(), cfg)
	if err == nil {
		client.Close()
	}
	return err
}

func withAuth(srv *sshtest.Server, user string, auth ...ssh.AuthMethod) *ssh.ClientConfig {
	cfg := srv.ClientConfig(user)
	cfg.Auth = auth
	return cfg
}

func keyboardInteractive(answer string) ssh.AuthMethod {
	return ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = answer
		}
		return answers, nil
	})
}

func TestPasswordAuth(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithPassword("alice", "s3cret"))
	tests := []struct {
		name string
		user string
		auth ssh.AuthMethod
		ok   bool
	}{
		{"password", "alice", ssh.Password("s3cret"), true},
		{"wrong password", "alice", ssh.Password("wrong"), false},
		{"password of another user", "bob", ssh.Password("s3cret"), false},
		{"keyboard-interactive", "alice", keyboardInteractive("s3cret"), true},
		{"wrong keyboard-interactive", "alice", keyboardInteractive("nope"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tryDial(srv, withAuth(srv, tt.user, tt.auth))
			if (err == nil) != tt.ok {
				t.Fatalf("dial err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPublicKeyAuth(t *testing.T) {
	extra, stranger := newSigner(t), newSigner(t)
	srv := sshtest.NewServer(t, sshtest.WithAuthorizedKey(extra.PublicKey()))
	for _, tt := range []struct {
		name   string
		signer ssh.Signer
		ok     bool
	}{
		{"client key", srv.ClientSigner(), true},
		{"authorized key", extra, true},
		{"unknown key", stranger, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tryDial(srv, withAuth(srv, "anyone", ssh.PublicKeys(tt.signer)))
			if (err == nil) != tt.ok {
				t.Fatalf("dial err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestAllowedUsers(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithAllowedUsers("alice"), sshtest.WithPassword("bob", "pw"))
	if err := tryDial(srv, srv.ClientConfig("alice")); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := tryDial(srv, srv.ClientConfig("mallory")); err == nil {
		t.Fatal("mallory was accepted")
	}
	if err := tryDial(srv, withAuth(srv, "bob", ssh.Password("pw"))); err == nil {
		t.Fatal("bob (not an allowed user) was accepted")
	}
}

// userCert returns a signer presenting a user certificate for principals,
// signed by ca.
func userCert(t *testing.T, ca ssh.Signer, principals ...string) ssh.Signer {
	t.Helper()
	key := newSigner(t)
	cert := &ssh.Certificate{
		Key:             key.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "test",
		ValidPrincipals: principals,
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func TestCertAuthority(t *testing.T) {
	ca, otherCA := newSigner(t), newSigner(t)
	srv := sshtest.NewServer(t, sshtest.WithCertAuthority(ca.PublicKey()))
	for _, tt := range []struct {
		name   string
		signer ssh.Signer
		ok     bool
	}{
		{"cert for alice", userCert(t, ca, "alice"), true},
		{"cert for bob", userCert(t, ca, "bob"), false},
		{"cert from another CA", userCert(t, otherCA, "alice"), false},
		{"plain client key still works", srv.ClientSigner(), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tryDial(srv, withAuth(srv, "alice", ssh.PublicKeys(tt.signer)))
			if (err == nil) != tt.ok {
				t.Fatalf("dial err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFailAuth(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.WithPassword("alice", "pw"))
	srv.FailAuth(true)
	if err := tryDial(srv, srv.ClientConfig("alice")); err == nil {
		t.Fatal("public key accepted while FailAuth(true)")
	}
	if err := tryDial(srv, withAuth(srv, "alice", ssh.Password("pw"))); err == nil {
		t.Fatal("password accepted while FailAuth(true)")
	}
	if got := srv.Stats().AuthFailures; got < 2 {
		t.Fatalf("AuthFailures = %d, want >= 2", got)
	}
	srv.FailAuth(false)
	if err := tryDial(srv, srv.ClientConfig("alice")); err != nil {
		t.Fatalf("after FailAuth(false): %v", err)
	}
}
