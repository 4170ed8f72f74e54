package legacy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
)

// target is where a contract runs: a trusted server, one whose host key is
// unknown, and one that is down.
type target struct {
	ok, untrusted, down *legacy.Server
	// stderr prints its argument to standard error; yes prints n lines of
	// "line". They differ between sshtest's built-ins and a POSIX shell.
	stderr func(text string) string
	yes    func(n int) string
}

// sshtestTarget and sshdTarget build targets on an env.
func sshtestTarget(t *testing.T, e *env) target {
	return target{ok: e.server("s1"), untrusted: e.untrusted("s2"), down: e.down(t, "s3"),
		stderr: func(s string) string { return "stderr " + s },
		yes:    func(n int) string { return "yes " + itoa(n) + " line" }}
}

func sshdTarget(t *testing.T, e *env) target {
	return target{ok: e.server("s1"), untrusted: e.untrusted("s2"), down: e.down(t, "s3"),
		stderr: func(s string) string { return "echo " + s + " >&2" },
		yes:    func(n int) string { return "yes line | head -n " + itoa(n) }}
}

// runContract checks the old API's behaviour on provider: the same output
// and the same errors for the same situations, whichever pool serves.
// exitText is the text the cause of a non-zero exit must have.
func runContract(t *testing.T, provider legacy.ConnectionProvider, tg target) {
	t.Run("echo", func(t *testing.T) {
		out, err := connect(t, provider, tg.ok, false).ExecuteCommand("echo hello world")
		if err != nil || out != "hello world\n" {
			t.Fatalf("ExecuteCommand = %q, %v; want %q, nil", out, err, "hello world\n")
		}
	})
	t.Run("user", func(t *testing.T) { contractUser(t, provider, tg.ok) })
	t.Run("exit", func(t *testing.T) { contractExit(t, provider, tg.ok) })
	t.Run("stderr", func(t *testing.T) {
		out, err := connect(t, provider, tg.ok, false).ExecuteCommand(tg.stderr("oops"))
		if err != nil || out != "oops\n" {
			t.Fatalf("ExecuteCommand = %q, %v; want %q, nil", out, err, "oops\n")
		}
	})
	t.Run("stream", func(t *testing.T) { contractStream(t, provider, tg) })
	t.Run("health", func(t *testing.T) {
		c := connect(t, provider, tg.ok, true)
		if err := c.TestHealth(); err != nil || !c.IsHealthy() {
			t.Fatalf("TestHealth = %v, IsHealthy = %v", err, c.IsHealthy())
		}
	})
	t.Run("closed", func(t *testing.T) { contractClosed(t, provider, tg.ok) })
	t.Run("unknown-host-key", func(t *testing.T) {
		contractRefused(t, provider, tg.untrusted, pool.KindHostKeyUnknown)
	})
	t.Run("server-down", func(t *testing.T) {
		contractRefused(t, provider, tg.down, pool.KindRefused)
	})
	t.Run("invalid-server", func(t *testing.T) {
		_, err := provider.GetOrCreateConnection(&legacy.Server{ID: "x"}, false)
		if !errors.Is(err, legacy.ErrInvalidServer) || pool.Classify(err) != pool.KindConfig {
			t.Fatalf("err = %v; want ErrInvalidServer (config)", err)
		}
	})
}

func connect(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server, asRoot bool) legacy.Connection {
	t.Helper()
	c, err := p.GetOrCreateConnection(s, asRoot)
	if err != nil {
		t.Fatalf("GetOrCreateConnection(%s, %v): %v", s.ID, asRoot, err)
	}
	return c
}

func contractUser(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	for _, asRoot := range []bool{true, false} {
		out, err := connect(t, p, s, asRoot).ExecuteCommand("whoami")
		if want := s.User(asRoot) + "\n"; err != nil || out != want {
			t.Errorf("asRoot=%v: whoami = %q, %v; want %q", asRoot, out, err, want)
		}
	}
}

func contractExit(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	out, err := c.ExecuteCommand("nosuchcommand")
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.ExitStatus() != 127 || pool.Classify(err) != pool.KindExit {
		t.Fatalf("err = %#v; want *CommandError with exit status 127 (kind exit)", err)
	}
	if !strings.Contains(out, "nosuchcommand") || ce.Output != out {
		t.Errorf("output = %q, Output = %q; want the shell's not-found message", out, ce.Output)
	}
	key := legacy.Key(s, false)
	wantPrefix := `legacy: exec "nosuchcommand" on ` + key + ": "
	if !strings.HasPrefix(err.Error(), wantPrefix) || !strings.HasSuffix(err.Error(), "ssh: command exited with status 127") {
		t.Errorf("Error() = %q; want %q...%q", err, wantPrefix, "ssh: command exited with status 127")
	}
	if ce.Op != legacy.OpExec || ce.Key != key || ce.Cmd != "nosuchcommand" {
		t.Errorf("CommandError = %+v", ce)
	}
	if out, err := c.ExecuteCommand("exit 3"); out != "" || pool.Classify(err) != pool.KindExit {
		t.Errorf("exit 3 = %q, %v", out, err)
	}
}

func contractStream(t *testing.T, p legacy.ConnectionProvider, tg target) {
	c := connect(t, p, tg.ok, false)
	lines := make(chan string, 1) // small: streaming must not need a big buffer
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range lines {
			got = append(got, l)
		}
	}()
	err := c.ExecuteCommandStream(tg.yes(50), lines)
	close(lines)
	<-done
	if err != nil || len(got) != 50 || got[0] != "line" || got[49] != "line" {
		t.Fatalf("stream: %d lines, err %v", len(got), err)
	}
	err = c.ExecuteCommandStream("false", make(chan string, 1))
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.Op != legacy.OpStream || ce.ExitStatus() != 1 {
		t.Fatalf("stream false: %v", err)
	}
}

func contractClosed(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	must(t, c.Close())
	must(t, c.Close()) // idempotent
	if _, err := c.ExecuteCommand("true"); !errors.Is(err, legacy.ErrConnectionClosed) {
		t.Fatalf("after Close: %v; want ErrConnectionClosed", err)
	}
	// The provider serves the key again.
	if out, err := connect(t, p, s, false).ExecuteCommand("echo again"); err != nil || out != "again\n" {
		t.Fatalf("after Close, new connection: %q, %v", out, err)
	}
}

func contractRefused(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server, want pool.ErrorKind) {
	c, err := p.GetOrCreateConnection(s, false)
	if err == nil {
		c.Close()
		t.Fatal("GetOrCreateConnection succeeded")
	}
	var ce *legacy.CommandError
	if got := pool.Classify(err); got != want || !errors.As(err, &ce) || ce.Op != legacy.OpConnect {
		t.Fatalf("err = %v (kind %v); want a connect *CommandError of kind %v", err, got, want)
	}
}

// providers builds the providers the contract runs on, over e.
func providers(t *testing.T, e *env) map[string]legacy.ConnectionProvider {
	lp := e.legacyPool(t)
	ad, _ := e.adapter(t)
	newFlagsClient, _ := newFlags(t, flagSet(100, false))
	killFlagsClient, _ := newFlags(t, flagSet(100, true))
	halfFlagsClient, _ := newFlags(t, flagSet(50, false))
	minimal, _ := e.minimalAdapter(t)
	return map[string]legacy.ConnectionProvider{
		"legacy":          lp,
		"adapter":         ad,
		"adapter=minimal": minimal,
		"router=new":      legacy.NewRouter(e.legacyPool(t), adaptr(t, e), newFlagsClient),
		"router=kill":     legacy.NewRouter(e.legacyPool(t), adaptr(t, e), killFlagsClient),
		"router=50pct":    legacy.NewRouter(e.legacyPool(t), adaptr(t, e), halfFlagsClient),
		"router=noflag":   legacy.NewRouter(e.legacyPool(t), adaptr(t, e), nil2(t)),
	}
}

func adaptr(t *testing.T, e *env) *legacy.Adapter {
	a, _ := e.adapter(t)
	return a
}

func TestContractSSHTest(t *testing.T) {
	e := newEnv(t)
	tg := sshtestTarget(t, e)
	for name, p := range providers(t, e) {
		t.Run(name, func(t *testing.T) { runContract(t, p, tg) })
	}
}

func TestContractSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	e := newSSHDEnv(t)
	tg := sshdTarget(t, e)
	for name, p := range providers(t, e) {
		t.Run(name, func(t *testing.T) { runContract(t, p, tg) })
	}
	t.Run("same-errors", func(t *testing.T) {
		sameErrors(t, e, []string{"exit 3", "nosuchcommand", "false", "echo x >&2", "echo ok"})
	})
}

// TestContractSameErrors runs the same situations on every provider and
// requires byte-identical output and error text.
func TestContractSameErrors(t *testing.T) {
	sameErrors(t, newEnv(t), []string{"exit 3", "nosuchcommand", "false", "stderr x", "echo ok"})
}

func sameErrors(t *testing.T, e *env, cmds []string) {
	s := e.server("same")
	want := map[string]string{}
	for name, p := range providers(t, e) {
		for _, cmd := range cmds {
			out, err := connect(t, p, s, false).ExecuteCommand(cmd)
			got := out + "|" + errText(err)
			if w, ok := want[cmd]; ok && w != got {
				t.Errorf("%s: %q = %q; another provider gave %q", name, cmd, got, w)
			}
			want[cmd] = got
		}
	}
	t.Logf("exit 3 on every provider: %s", want["exit 3"])
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
