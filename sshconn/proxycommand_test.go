package sshconn_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/sshdtest"
	"github.com/sshpool/sshpool/sshconn"
)

var (
	relayOnce sync.Once
	relayDir  string // the temporary directory of relayPath; TestMain removes it
	relayPath string
	relayErr  error
)

// removeRelayAfter runs the tests, then removes the relay that
// proxyRelay built for them.
type removeRelayAfter struct{ m *testing.M }

// Run runs the tests and removes the relay's directory.
func (r removeRelayAfter) Run() int {
	code := r.m.Run()
	if relayDir != "" {
		_ = os.RemoveAll(relayDir)
	}
	return code
}

// proxyRelay builds testdata/proxyrelay, an nc-like ProxyCommand, once.
func proxyRelay(t *testing.T) string {
	t.Helper()
	relayOnce.Do(func() {
		dir, err := os.MkdirTemp("", "proxyrelay-")
		if err != nil {
			relayErr = err
			return
		}
		relayDir, relayPath = dir, filepath.Join(dir, "proxyrelay")
		out, err := exec.Command("go", "build", "-o", relayPath, "./testdata/proxyrelay").CombinedOutput()
		if err != nil {
			relayErr = fmt.Errorf("go build proxyrelay: %v: %s", err, out)
		}
	})
	if relayErr != nil {
		t.Fatal(relayErr)
	}
	return relayPath
}

// readRecord waits for the relay's record file and returns its fields.
func readRecord(t *testing.T, file string) map[string]string {
	t.Helper()
	var data []byte
	waitFor(t, func() bool {
		b, err := os.ReadFile(file)
		data = b
		return err == nil && strings.HasSuffix(string(b), "\n")
	}, "the ProxyCommand must start")
	out := map[string]string{}
	for _, f := range strings.Fields(string(data)) {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

// gone reports whether pid no longer exists: not running and reaped (a
// zombie still answers signal 0).
func gone(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(n, 0), syscall.ESRCH)
}

// TestSSHDProxyCommand dials a real sshd through a ProxyCommand that
// relays stdin and stdout to it, with the tokens ssh gives a
// ProxyCommand, and checks that Close kills and reaps the command.
func TestSSHDProxyCommand(t *testing.T) {
	e := newSSHD(t)
	record := filepath.Join(t.TempDir(), "record")
	tgt := e.target()
	tgt.Alias, tgt.HostKeyAlias = "myalias", ""
	tgt.ProxyCommand = proxyRelay(t) + " -record " + record + " %h %p %r %n %k 100%%"
	c := mustDial(t, tgt)
	if got := mustRun(t, c, "echo through-proxy"); got != "through-proxy" {
		t.Fatalf("run = %q", got)
	}
	rec := readRecord(t, record)
	want := strings.Join([]string{"127.0.0.1", strconv.Itoa(e.srv.Port()), e.srv.User(), "myalias", "myalias", "100%"}, "|")
	if rec["args"] != want {
		t.Errorf("ProxyCommand arguments %q, want %q", rec["args"], want)
	}
	if !strings.Contains(tgt.String(), "via ProxyCommand") {
		t.Errorf("Target.String() = %q, want it to say the ProxyCommand is used", tgt.String())
	}
	c.Close()
	if !gone(rec["pid"]) {
		t.Fatalf("ProxyCommand pid %s still exists after Close (running or not reaped)", rec["pid"])
	}
}

// TestSSHDProxyCommandSSHW goes through a second private sshd acting as a
// bastion, with ssh -W as the ProxyCommand, configured in ssh_config.
func TestSSHDProxyCommandSSHW(t *testing.T) {
	needSSH(t)
	bastion := sshdtest.Start(t, sshdtest.WithLogLevel("VERBOSE"))
	final := newSSHD(t)
	dir := t.TempDir()
	clientCfg := filepath.Join(dir, "ssh_client_config")
	writeFile(t, clientCfg, bastion.OpenSSHConfig("bastion"))
	cfg := fmt.Sprintf("Host behind\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n"+
		"  ProxyCommand %s -F %s -W %%h:%%p bastion\n", final.srv.Port(), final.srv.User(), final.srv.ClientKeyPath(),
		final.knownHosts, sshBinary, clientCfg)
	r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg)}
	c, err := newFactory(r).DialClient(context.Background(), "behind")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := mustRun(t, c, "echo via-bastion"); got != "via-bastion" {
		t.Fatalf("run = %q", got)
	}
	if !strings.Contains(bastion.Logs(), "Accepted publickey for "+bastion.User()) {
		t.Fatalf("the bastion did not log the ssh -W login:\n%s", bastion.Logs())
	}
}

// TestSSHDProxyCommandCancelled: a ProxyCommand that never speaks SSH is
// bounded by the dial's context; when it ends the command and its child
// are killed and reaped, even when the command ignores SIGHUP.
func TestSSHDProxyCommandCancelled(t *testing.T) {
	for _, flags := range []string{"-hang", "-hang -ignore-hup"} {
		t.Run(flags, func(t *testing.T) {
			record := filepath.Join(t.TempDir(), "record")
			tgt := sshconn.Target{Host: "127.0.0.1", Port: 1, User: "u", KnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")},
				Auth: sshconn.Auth{Signers: signers(t)}, ProxyCommand: proxyRelay(t) + " " + flags + " -record " + record + " %h %p"}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			reg := sshconn.NewRegistry()
			reg.Register("k", tgt)
			_, err := newFactory(reg, sshconn.WithMaxRetries(0)).DialClient(ctx, "k")
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > promptly {
				t.Fatalf("dial = %v after %v, want the context's deadline, promptly", err, time.Since(start))
			}
			rec := readRecord(t, record)
			if !gone(rec["pid"]) {
				t.Fatalf("ProxyCommand %s still exists after the dial returned (running or not reaped)", rec["pid"])
			}
			// The child was killed with the process group; init reaps it.
			waitFor(t, func() bool { return gone(rec["child"]) }, "the ProxyCommand's child must be killed")
		})
	}
}

// TestProxyCommandFailures: a ProxyCommand the shell cannot run is a
// configuration error, one that exits is a refused connection; both
// report the exit status and the end of stderr, never the command line.
func TestProxyCommandFailures(t *testing.T) {
	for _, tc := range []struct {
		command string
		status  int
		kind    failure.Kind
		stderr  string
	}{
		{"/nonexistent/proxycmd %h secret-token", 127, failure.Config, "not found"},
		{"sh -c 'echo cannot reach %h >&2; exit 3'", 3, failure.Refused, "cannot reach 127.0.0.1"},
		// The last words count: ssh -W prints warnings before its error.
		{"sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo warning: a long line of diagnostics before the error >&2; done; " +
			"echo last words: no route to %h >&2; exit 255'", 255, failure.Refused, "last words: no route to 127.0.0.1"},
	} {
		tgt := sshconn.Target{Host: "127.0.0.1", Port: 22, User: "u", Auth: sshconn.Auth{Signers: signers(t)},
			KnownHostsFiles: []string{filepath.Join(t.TempDir(), "kh")}, ProxyCommand: tc.command}
		attempts := 0
		_, err := dialTarget(t, tgt, sshconn.WithAttemptHook(func(string, int, error) { attempts++ }))
		var pe *sshconn.ProxyCommandError
		if !errors.As(err, &pe) || pe.ExitStatus != tc.status || failure.Classify(err) != tc.kind {
			t.Errorf("%q: err = %v (kind %v), want a ProxyCommandError with status %d and kind %v", tc.command, err, failure.Classify(err), tc.status, tc.kind)
			continue
		}
		if !strings.Contains(pe.Stderr, tc.stderr) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%q: error %q must quote stderr (%q) and not the command", tc.command, err, tc.stderr)
		}
		if tc.kind == failure.Config && attempts != 1 {
			t.Errorf("%q: %d attempts, want 1 (not retried)", tc.command, attempts)
		}
	}
}

// TestProxyCommandAndJumpHostsExclude: only the first hop may have a
// ProxyCommand (ssh refuses ProxyCommand with ProxyJump).
func TestProxyCommandAndJumpHostsExclude(t *testing.T) {
	tgt := sshconn.Target{Host: "h", User: "u", Auth: sshconn.Auth{Signers: signers(t)}, ProxyCommand: "nc %h %p",
		JumpHosts: []sshconn.Target{{Host: "j", User: "u", Auth: sshconn.Auth{Signers: signers(t)}}}}
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.Config || !strings.Contains(err.Error(), "only the first hop") {
		t.Fatalf("err = %v, want a config error", err)
	}
}

// signers returns one fresh in-memory key.
func signers(t *testing.T) []ssh.Signer {
	s, _ := newKey(t)
	return []ssh.Signer{s}
}
