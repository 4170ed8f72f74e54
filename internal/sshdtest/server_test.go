package sshdtest_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/internal/testenv"
)

// dial connects to srv with cfg, closing the client in t.Cleanup.
func dial(t *testing.T, srv *sshdtest.Server, cfg *ssh.ClientConfig) *ssh.Client {
	t.Helper()
	client, err := ssh.Dial("tcp", srv.Addr(), cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Addr(), err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// output runs cmd in a new session on client.
func output(client *ssh.Client, cmd string) (string, error) {
	sess, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	out, err := sess.Output(cmd)
	return string(out), err
}

func TestEcho(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	cfg := &ssh.ClientConfig{
		User:            srv.User(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(srv.ClientSigner())},
		HostKeyCallback: ssh.FixedHostKey(srv.HostPublicKey()),
	}
	client := dial(t, srv, cfg)
	if out, err := output(client, "echo hello"); err != nil || out != "hello\n" {
		t.Fatalf("echo hello = %q, %v; want %q", out, err, "hello\n")
	}
	if out, err := output(client, "id -un"); err != nil || out != srv.User()+"\n" {
		t.Errorf("id -un = %q, %v; want %q", out, err, srv.User())
	}
	if os.Geteuid() == 0 && srv.User() != sshdtest.TestUser {
		t.Errorf("User() = %q as root, want %q", srv.User(), sshdtest.TestUser)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	client := dial(t, srv, srv.ClientConfig())
	_, err := output(client, "exit 3")
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Fatalf("exit 3: err = %v (%T), want *ssh.ExitError with status 3", err, err)
	}
}

// TestMaxSessions pins how OpenSSH refuses a session past MaxSessions:
// sshd 9.2 logs "no more sessions" and answers SSH2_OPEN_CONNECT_FAILED
// ("open failed"), not SSH2_OPEN_ADMINISTRATIVELY_PROHIBITED: serverloop.c
// sends its default reason when session_open fails. Code that detects the
// session limit must accept both reasons (sshtest answers Prohibited).
func TestMaxSessions(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithMaxSessions(2))
	client := dial(t, srv, srv.ClientConfig())
	for i := range 2 {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
		defer sess.Close()
	}
	sess, err := client.NewSession()
	if err == nil {
		sess.Close()
		t.Fatal("third session opened with MaxSessions 2")
	}
	var openErr *ssh.OpenChannelError
	if !errors.As(err, &openErr) {
		t.Fatalf("third session: err = %v (%T), want *ssh.OpenChannelError", err, err)
	}
	if openErr.Reason != ssh.ConnectionFailed && openErr.Reason != ssh.Prohibited {
		t.Errorf("third session: Reason = %v (%q), want ConnectionFailed (OpenSSH 9.2) or Prohibited",
			openErr.Reason, openErr.Message)
	}
	t.Logf("sshd refused the third session with reason %d %q", openErr.Reason, openErr.Message)
	waitLog(t, srv, "no more sessions")
}

// waitLimit bounds the waits in these tests. It only guards against a hang:
// they normally end in milliseconds, but a loaded machine can be very slow.
const waitLimit = 30 * time.Second

// waitLog fails unless srv's log contains s within waitLimit.
func waitLog(t *testing.T, srv *sshdtest.Server, s string) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !strings.Contains(srv.Logs(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("%q not in the log", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartKeepsPortAndHostKey(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	addr, pid := srv.Addr(), srv.PID()
	old := dial(t, srv, srv.ClientConfig())
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr || srv.PID() == pid || srv.PID() == 0 {
		t.Errorf("after Restart: addr %s, pid %d; before: %s, %d", srv.Addr(), srv.PID(), addr, pid)
	}
	waitClosed(t, old)
	client := dial(t, srv, srv.ClientConfig()) // FixedHostKey: same host key
	if out, err := output(client, "echo again"); err != nil || out != "again\n" {
		t.Fatalf("echo after Restart = %q, %v", out, err)
	}
}

// waitClosed fails unless client's connection ends within waitLimit.
func waitClosed(t *testing.T, client *ssh.Client) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		client.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		client.Close()
		<-done
		t.Fatal("connection still open after the server stopped")
	}
}

func TestStopDropsConnections(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	client := dial(t, srv, srv.ClientConfig())
	cmdPID := startSleep(t, client)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client)
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Error("port still accepts connections after Stop")
	}
	if srv.PID() != 0 {
		t.Errorf("PID() = %d after Stop", srv.PID())
	}
	if processExists(cmdPID) {
		t.Errorf("remote command %d still running after Stop", cmdPID)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// startSleep starts a long remote command on client and returns its pid.
func startSleep(t *testing.T, client *ssh.Client) int {
	t.Helper()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("echo $$; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscanln(stdout, &pid); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout) // until the session ends
	return pid
}

// processExists reports whether pid names a process that is not a zombie.
func processExists(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || !bytes.HasPrefix(data[i+1:], []byte(" Z"))
}

func TestKillKeepsEstablishedConnections(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	client := dial(t, srv, srv.ClientConfig())
	cmdPID := startSleep(t, client)
	pid := srv.PID()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Errorf("listener %d still exists after Kill", pid)
	}
	if _, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig()); err == nil {
		t.Error("new connection accepted after Kill")
	}
	if out, err := output(client, "echo alive"); err != nil || out != "alive\n" {
		t.Errorf("established connection after Kill: %q, %v", out, err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, client) // Restart ends what Kill left running
	if processExists(cmdPID) {
		t.Errorf("remote command %d still running after Restart", cmdPID)
	}
	dial(t, srv, srv.ClientConfig())
}

func TestPasswordAuth(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithPasswordAuth())
	if srv.Password() == "" {
		t.Fatal("Password() is empty with WithPasswordAuth")
	}
	cfg := srv.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.Password(srv.Password())}
	client := dial(t, srv, cfg)
	if out, err := output(client, "echo pw"); err != nil || out != "pw\n" {
		t.Fatalf("echo = %q, %v", out, err)
	}
	cfg.Auth = []ssh.AuthMethod{ssh.Password("wrong")}
	if c, err := ssh.Dial("tcp", srv.Addr(), cfg); err == nil {
		c.Close()
		t.Error("wrong password accepted")
	}
}

func TestNoPasswordAuthByDefault(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	if srv.Password() != "" {
		t.Errorf("Password() = %q without WithPasswordAuth", srv.Password())
	}
	cfg := srv.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.Password("anything")}
	if c, err := ssh.Dial("tcp", srv.Addr(), cfg); err == nil {
		c.Close()
		t.Error("password accepted without WithPasswordAuth")
	}
}

func TestUserCA(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithUserCA())
	if srv.UserCA() == nil || srv.ClientCertSigner() == nil {
		t.Fatal("UserCA or ClientCertSigner nil with WithUserCA")
	}
	cfg := srv.ClientConfig()
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(srv.ClientCertSigner())}
	client := dial(t, srv, cfg)
	if out, err := output(client, "echo cert"); err != nil || out != "cert\n" {
		t.Fatalf("echo = %q, %v", out, err)
	}
}

func TestHostCAAndKnownHosts(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithHostCA())
	if srv.HostCAPublicKey() == nil {
		t.Fatal("HostCAPublicKey nil with WithHostCA")
	}
	callback, err := knownhosts.New(srv.KnownHostsPath())
	if err != nil {
		t.Fatal(err)
	}
	var shown ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: srv.User(),
		Auth: []ssh.AuthMethod{ssh.PublicKeys(srv.ClientSigner())},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			shown = key
			return callback(host, remote, key)
		},
	}
	dial(t, srv, cfg)
	if _, ok := shown.(*ssh.Certificate); !ok {
		t.Errorf("host key shown is %T, want *ssh.Certificate", shown)
	}
	dial(t, srv, srv.ClientConfig()) // plain key still works
}

func TestKnownHosts(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	want := "[127.0.0.1]:" + strings.TrimPrefix(srv.Addr(), "127.0.0.1:") + " ssh-ed25519 "
	if !strings.HasPrefix(srv.KnownHostsLine(), want) {
		t.Errorf("KnownHostsLine() = %q, want prefix %q", srv.KnownHostsLine(), want)
	}
	callback, err := knownhosts.New(srv.KnownHostsPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.ClientConfig()
	cfg.HostKeyCallback = callback
	dial(t, srv, cfg)
}

func TestClientKeyFile(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	fi, err := os.Stat(srv.ClientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client key mode %v, want 0600", fi.Mode().Perm())
	}
	pemBytes, err := os.ReadFile(srv.ClientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(signer.PublicKey().Marshal(), srv.ClientSigner().PublicKey().Marshal()) {
		t.Error("key file does not hold ClientSigner's key")
	}
}

func TestAcceptEnvAndSFTP(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t)
	client := dial(t, srv, srv.ClientConfig())
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Setenv("SSHPOOL_TEST", "xyz"); err != nil {
		t.Fatal(err)
	}
	if out, err := sess.Output("echo $SSHPOOL_TEST"); err != nil || string(out) != "xyz\n" {
		t.Errorf("echo $SSHPOOL_TEST = %q, %v", out, err)
	}
	sftp, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sftp.Close()
	if err := sftp.RequestSubsystem("sftp"); err != nil {
		t.Errorf("sftp subsystem: %v", err)
	}
}

func TestVerboseLogs(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithLogLevel("VERBOSE"))
	dial(t, srv, srv.ClientConfig()).Close()
	waitLog(t, srv, "Accepted publickey for "+srv.User())
}

func TestParallelStarts(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			srv, err := sshdtest.New(sshdtest.WithPasswordAuth())
			if errors.Is(err, sshdtest.ErrNeedsRoot) {
				srv, err = sshdtest.New()
			}
			if err != nil {
				t.Error(err)
				return
			}
			defer srv.Close()
			if c, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig()); err != nil {
				t.Error(err)
			} else {
				c.Close()
			}
		})
	}
	wg.Wait()
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	srv, err := sshdtest.New()
	if errors.Is(err, sshdtest.ErrNotInstalled) {
		testenv.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pid := srv.PID()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(srv.Dir()); !os.IsNotExist(err) {
		t.Errorf("directory %s left after Close (%v)", srv.Dir(), err)
	}
	if processExists(pid) {
		t.Errorf("sshd %d still exists after Close", pid)
	}
	if err := srv.Restart(); !errors.Is(err, sshdtest.ErrClosed) {
		t.Errorf("Restart after Close = %v, want ErrClosed", err)
	}
}

func TestNotInstalled(t *testing.T) {
	missing := sshdtest.WithSSHDPath("/nonexistent/sshd")
	if _, err := sshdtest.New(missing); !errors.Is(err, sshdtest.ErrNotInstalled) {
		t.Fatalf("New with a missing sshd = %v, want ErrNotInstalled", err)
	}
	const msg = "sshd not installed: run apt-get install openssh-server"
	for _, tc := range []struct{ ci, want string }{
		{"", "skip: " + msg},
		{"false", "skip: " + msg},
		{"true", "fatal: " + msg},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			got := testenv.Ending(t, func(tb testing.TB) { sshdtest.Start(tb, missing) })
			if got != tc.want {
				t.Errorf("Start = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMaxStartups(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithMaxStartups("1"))
	raw := takeStartupSlot(t, srv)
	defer raw.Close()
	if c, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig()); err == nil {
		c.Close()
		t.Fatal("second unauthenticated connection accepted with MaxStartups 1")
	}
	raw.Close()
	deadline := time.Now().Add(waitLimit)
	for {
		c, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after the slot was freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// takeStartupSlot opens an unauthenticated connection to srv that holds
// its only MaxStartups slot, once sshd answers it with its banner. sshd's
// listener frees the slot of an earlier connection (Start's readiness probe)
// only when it notices that connection's process has hung up, which on a
// loaded machine can be after the probe has returned: until then a new
// connection is dropped with "Exceeded MaxStartups", and this tries again.
func takeStartupSlot(t *testing.T, srv *sshdtest.Server) net.Conn {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		raw, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(raw).ReadString('\n')
		if strings.HasPrefix(line, "SSH-2.0-") {
			return raw
		}
		raw.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no SSH banner from sshd with MaxStartups 1: %q, %v", line, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRootLogin(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	srv := sshdtest.Start(t)
	cfg := srv.ClientConfig()
	cfg.User = "root"
	if out, err := output(dial(t, srv, cfg), "id -u"); err != nil || out != "0\n" {
		t.Errorf("id -u as root = %q, %v", out, err)
	}
	srv = sshdtest.Start(t, sshdtest.WithPermitRootLogin("no"))
	cfg = srv.ClientConfig()
	cfg.User = "root"
	if c, err := ssh.Dial("tcp", srv.Addr(), cfg); err == nil {
		c.Close()
		t.Error("root logged in with PermitRootLogin no")
	}
}

func TestWithConfigTakesPrecedence(t *testing.T) {
	t.Parallel()
	srv := sshdtest.Start(t, sshdtest.WithConfig("MaxSessions 1"))
	client := dial(t, srv, srv.ClientConfig())
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if second, err := client.NewSession(); err == nil {
		second.Close()
		t.Error("second session opened: WithConfig(\"MaxSessions 1\") did not override the default 10")
	}
}
