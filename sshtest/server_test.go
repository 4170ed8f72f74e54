package sshtest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/internal/capture"
	"github.com/sshpool/sshpool/sshtest"
)

func TestAddressAndKeys(t *testing.T) {
	srv := sshtest.NewServer(t)
	if srv.Host() != "127.0.0.1" || srv.Port() == 0 {
		t.Fatalf("host %q port %d", srv.Host(), srv.Port())
	}
	if want := "127.0.0.1:" + strconv.Itoa(srv.Port()); srv.Addr() != want {
		t.Fatalf("Addr = %q, want %q", srv.Addr(), want)
	}
	if srv.HostKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("host key type %s", srv.HostKey().Type())
	}
	prefix := "[127.0.0.1]:" + strconv.Itoa(srv.Port()) + " ssh-ed25519 AAAA"
	if line := srv.KnownHostsLine(); !strings.HasPrefix(line, prefix) || strings.HasSuffix(line, "\n") {
		t.Fatalf("KnownHostsLine = %q", line)
	}
	if line := srv.ClientAuthorizedKey(); !strings.HasPrefix(line, "ssh-ed25519 AAAA") || strings.HasSuffix(line, "\n") {
		t.Fatalf("ClientAuthorizedKey = %q", line)
	}
}

// TestKeyFilesWork checks that the PEM and known_hosts line work as files,
// the way the demo and ssh_config-driven code use them.
func TestKeyFilesWork(t *testing.T) {
	srv := sshtest.NewServer(t)
	dir := t.TempDir()
	khPath := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(khPath, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKeyCallback, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := srv.ClientKeyPEM()
	if !strings.HasPrefix(string(pemBytes), "-----BEGIN OPENSSH PRIVATE KEY-----") {
		t.Fatalf("PEM = %.40q", pemBytes)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: "u", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeyCallback}
	client := dial(t, srv, cfg)
	if _, _, err := run(t, client, "true", ""); err != nil {
		t.Fatal(err)
	}
}

func TestWithHostKeyAndAddr(t *testing.T) {
	other := sshtest.NewServer(t) // borrow a key from another server's client key
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := sshtest.NewServer(t, sshtest.WithHostKey(other.ClientSigner()), sshtest.WithAddr(addr))
	if srv.Addr() != addr {
		t.Fatalf("Addr = %s, want %s", srv.Addr(), addr)
	}
	if string(srv.HostKey().Marshal()) != string(other.ClientSigner().PublicKey().Marshal()) {
		t.Fatal("WithHostKey not used")
	}
	dial(t, srv, srv.ClientConfig("u"))
}

func TestStartError(t *testing.T) {
	if _, err := sshtest.Start(sshtest.WithAddr("256.0.0.1:0")); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
}

func TestKeepaliveRepliesFalse(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	for range 3 {
		ok, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		if ok || err != nil {
			t.Fatalf("keepalive = %v, %v; want false, nil", ok, err)
		}
	}
	if ok, _, err := client.SendRequest("unknown@example.com", true, nil); ok || err != nil {
		t.Fatalf("unknown request = %v, %v", ok, err)
	}
	if got := srv.Stats().Keepalives; got != 3 {
		t.Fatalf("Keepalives = %d, want 3", got)
	}
}

// echoServer accepts connections on a loopback listener and echoes them.
func echoServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln
}

func TestDirectTCPIPEchoes(t *testing.T) {
	srv := sshtest.NewServer(t)
	ln := echoServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	conn, err := client.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	conn.Close()
	eventually(t, "channel closed", func() bool { return srv.Stats().ChannelsOpen == 0 })
}

func TestDirectTCPIPRefusesNonLoopback(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	_, err := client.Dial("tcp", "192.0.2.1:22")
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
		t.Fatalf("err = %v, want OpenChannelError Prohibited", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := ln.Addr().String()
	ln.Close()
	_, err = client.Dial("tcp", closedAddr)
	if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed {
		t.Fatalf("err = %v, want OpenChannelError ConnectionFailed", err)
	}
}

// TestProxyJump chains client → jump (sshtest) → target (sshtest).
func TestProxyJump(t *testing.T) {
	jump, target := sshtest.NewServer(t), sshtest.NewServer(t)
	jc := dial(t, jump, jump.ClientConfig("u"))
	raw, err := jc.DialContext(context.Background(), "tcp", target.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(raw, target.Addr(), target.ClientConfig("v"))
	if err != nil {
		t.Fatal(err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	stdout, _, err := run(t, client, "whoami", "")
	if err != nil || stdout != "v\n" {
		t.Fatalf("whoami via jump = %q, %v", stdout, err)
	}
}

func TestStats(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	for range 2 {
		if _, _, err := run(t, client, "true", ""); err != nil {
			t.Fatal(err)
		}
	}
	bad := srv.ClientConfig("u")
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}
	if _, err := ssh.Dial("tcp", srv.Addr(), bad); err == nil {
		t.Fatal("bad auth succeeded")
	}
	eventually(t, "sessions closed", func() bool { return srv.Stats().ChannelsOpen == 0 })
	st := srv.Stats()
	want := sshtest.Stats{ConnsAccepted: 2, ConnsOpen: 1, ChannelsOpened: 2, Execs: 2, AuthFailures: 1}
	eventually(t, "failed conn closed", func() bool { st = srv.Stats(); return st.ConnsOpen == 1 })
	if st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	client.Close()
	eventually(t, "conn closed", func() bool { return srv.Stats().ConnsOpen == 0 })
}

func TestCloseIsIdempotentAndStopsListening(t *testing.T) {
	srv, err := sshtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("u"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 60"); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close()
	if err := client.Wait(); err == nil {
		t.Log("client.Wait returned nil")
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Fatal("dial after Close succeeded")
	}
	if err := srv.Restart(); !errors.Is(err, sshtest.ErrServerClosed) {
		t.Fatalf("Restart after Close = %v", err)
	}
	if err := srv.RefuseNew(false); !errors.Is(err, sshtest.ErrServerClosed) {
		t.Fatalf("RefuseNew after Close = %v", err)
	}
}

// TestMalformedInput sends requests with bad payloads; the server must
// refuse them and keep serving.
func TestMalformedInput(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("u"))
	if _, _, err := client.OpenChannel("direct-tcpip", []byte{1, 2}); err == nil {
		t.Fatal("direct-tcpip with garbage accepted")
	}
	if _, _, err := client.OpenChannel("x11", nil); err == nil {
		t.Fatal("unknown channel type accepted")
	}
	ch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	for _, typ := range []string{"exec", "env", "signal", "pty-req", "subsystem"} {
		ok, err := ch.SendRequest(typ, true, []byte{0, 0, 0, 9, 'x'})
		if typ != "pty-req" && (ok || err != nil) {
			t.Errorf("%s with a bad payload: ok=%v err=%v", typ, ok, err)
		}
	}
	ch.Close()
	if _, _, err := run(t, client, "true", ""); err != nil {
		t.Fatalf("server broken by malformed input: %v", err)
	}
}

func TestWithLogger(t *testing.T) {
	var buf capture.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := sshtest.NewServer(t, sshtest.WithLogger(logger))
	bad := srv.ClientConfig("eve")
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}
	if err := tryDial(srv, bad); err == nil {
		t.Fatal("bad key accepted")
	}
	if !strings.Contains(buf.String(), "user=eve") {
		t.Fatalf("log %q does not mention the failed login", buf.String())
	}
}

// TestWriteClientFiles: the files it writes let ssh's own file formats
// reach the server: the identity parses to the client key, known_hosts
// accepts the server's key at its address and refuses another, and a
// directory that cannot be written is an error.
func TestWriteClientFiles(t *testing.T) {
	srv := sshtest.NewServer(t)
	id, kh, err := srv.WriteClientFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(id)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil || !bytes.Equal(signer.PublicKey().Marshal(), srv.ClientSigner().PublicKey().Marshal()) {
		t.Fatalf("identity file: %v, or not the client key", err)
	}
	if fi, err := os.Stat(id); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("identity file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	check, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := net.ResolveTCPAddr("tcp", srv.Addr())
	if err := check(srv.Addr(), addr, srv.HostKey()); err != nil {
		t.Errorf("known_hosts refuses the server's key: %v", err)
	}
	if err := check(srv.Addr(), addr, srv.ClientSigner().PublicKey()); err == nil {
		t.Error("known_hosts accepts another key for the server")
	}
	if _, _, err := srv.WriteClientFiles(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("WriteClientFiles into a missing directory succeeded")
	}
}
