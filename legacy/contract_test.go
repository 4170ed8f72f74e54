package legacy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/legacy"
	"github.com/sshpool/sshpool/pool"
	"github.com/sshpool/sshpool/sshconn"
)

// target is where a contract runs: trusted servers, and servers that must
// be refused or recorded.
type target struct {
	e *env
	// stderr prints its argument to standard error; yes prints n lines of
	// "line"; mixed prints "a" and "c" on standard output and "b" on
	// standard error, in that order; fail prints text on standard error
	// and exits code. They differ between sshtest's built-ins (and
	// testHandler's) and a POSIX shell.
	stderr func(text string) string
	yes    func(n int) string
	mixed  string
	fail   func(text string, code int) string
}

// sshtestTarget and sshdTarget build targets on an env.
func sshtestTarget(e *env) target {
	return target{e: e, stderr: func(s string) string { return "stderr " + s },
		yes: func(n int) string { return "yes " + itoa(n) + " line" }, mixed: "mixed",
		fail: func(s string, code int) string { return "errexit " + itoa(code) + " " + s }}
}

func sshdTarget(e *env) target {
	return target{e: e, stderr: func(s string) string { return "echo " + s + " >&2" },
		yes:   func(n int) string { return "yes line | head -n " + itoa(n) },
		mixed: "echo a; sleep 0.05; echo b >&2; sleep 0.05; echo c",
		fail:  func(s string, code int) string { return "echo " + s + " >&2; exit " + itoa(code) }}
}

// runContract checks the old API's behaviour on provider: the same output
// and the same errors for the same situations, whichever pool serves.
func runContract(t *testing.T, provider legacy.ConnectionProvider, tg target) {
	e := tg.e
	t.Run("echo", func(t *testing.T) {
		out, err := connect(t, provider, e.server("s1"), false).ExecuteCommand("echo hello world")
		if err != nil || out != "hello world\n" {
			t.Fatalf("ExecuteCommand = %q, %v; want %q, nil", out, err, "hello world\n")
		}
	})
	t.Run("same-connection", func(t *testing.T) { contractSameConnection(t, provider, e.server("s1")) })
	t.Run("user", func(t *testing.T) { contractUser(t, provider, e.server("s1")) })
	t.Run("exit", func(t *testing.T) { contractExit(t, provider, e.server("s1")) })
	t.Run("stderr", func(t *testing.T) {
		out, err := connect(t, provider, e.server("s1"), false).ExecuteCommand(tg.stderr("oops"))
		if err != nil || out != "oops\n" {
			t.Fatalf("ExecuteCommand = %q, %v; want %q, nil", out, err, "oops\n")
		}
	})
	t.Run("stream", func(t *testing.T) { contractStream(t, provider, tg) })
	t.Run("bad-arguments", func(t *testing.T) { contractBadArguments(t, provider, e.server("s1")) })
	t.Run("health", func(t *testing.T) { contractHealth(t, provider, e.server("s1")) })
	t.Run("manager", func(t *testing.T) { contractManager(t, provider, e.server("s1")) })
	t.Run("closed", func(t *testing.T) { contractClosed(t, provider, e.server("s1")) })
	t.Run("host-key-unknown-locked", func(t *testing.T) {
		contractRefused(t, provider, e.untrusted("s2"), failure.HostKeyUnknown)
	})
	t.Run("host-key-unknown-recorded", func(t *testing.T) { contractAcceptNew(t, provider, e.unknownHost("s5")) })
	t.Run("host-key-changed", func(t *testing.T) {
		contractRefused(t, provider, e.changedKey(t, "s6"), failure.HostKeyChanged)
		locked := e.changedKey(t, "s7")
		locked.SecurityLocked = true
		contractRefused(t, provider, locked, failure.HostKeyChanged)
	})
	t.Run("server-down", func(t *testing.T) {
		contractRefused(t, provider, e.down(t, "s3"), failure.Refused)
	})
	t.Run("invalid-server", func(t *testing.T) {
		_, err := provider.GetOrCreateConnection(&legacy.Server{ID: "x"}, false)
		if !errors.Is(err, legacy.ErrInvalidServer) || failure.Classify(err) != failure.Config {
			t.Fatalf("err = %v; want ErrInvalidServer (config)", err)
		}
	})
	t.Run("status", func(t *testing.T) { contractStatus(t, provider, e.server("s4")) })
}

func connect(t testing.TB, p legacy.ConnectionProvider, s *legacy.Server, asRoot bool) *legacy.PooledConnection {
	t.Helper()
	c, err := p.GetOrCreateConnection(s, asRoot)
	if err != nil {
		t.Fatalf("GetOrCreateConnection(%s, %v): %v", s.ID, asRoot, err)
	}
	return c
}

// contractSameConnection: callers for the same (server, user) share one
// *PooledConnection, as in the old pool; the roles do not. The fields the
// pools ignore (the record's timestamps, SetupComplete, ProxyEmail) do not
// make a server another one: handlers build the Server from a record per
// request.
func contractSameConnection(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c1, c2, c3 := connect(t, p, s, false), connect(t, p, s, false), connect(t, p, s, true)
	if c1 != c2 || c1 == c3 || c1.Key() != legacy.Key(s, false) || c3.AsRoot() != true || c1.Server().ID != s.ID {
		t.Fatalf("c1==c2 %v, c1==c3 %v, key %q", c1 == c2, c1 == c3, c1.Key())
	}
	fresh := *s
	fresh.Created, fresh.Updated = time.Now(), time.Now()
	fresh.SetupComplete, fresh.ProxyEmail = !s.SetupComplete, "ops@example.com"
	if c4 := connect(t, p, &fresh, false); c4 != c1 {
		t.Fatal("the same server with new timestamps got another connection")
	}
}

func contractUser(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	for _, asRoot := range []bool{true, false} {
		c := connect(t, p, s, asRoot)
		out, err := c.ExecuteCommand("whoami")
		if want := s.User(asRoot) + "\n"; err != nil || out != want {
			t.Errorf("asRoot=%v: whoami = %q, %v; want %q", asRoot, out, err, want)
		}
		if m := c.GetManager(); m.GetUsername() != s.User(asRoot) || m.IsRoot() != asRoot || m.GetServer().ID != s.ID {
			t.Errorf("manager: user %q root %v", m.GetUsername(), m.IsRoot())
		}
		info := c.GetManager().GetConnectionInfo()
		if info["connected"] != true || info["username"] != s.User(asRoot) || info["is_root"] != asRoot ||
			info["server_host"] != s.Host || info["server_port"] != s.EffectivePort() || info["server_name"] != s.Name ||
			info["remote_addr"] != s.Addr() {
			t.Errorf("manager: GetConnectionInfo() = %v", info)
		}
	}
}

// contractExit: a command that exits non-zero returns its output and a
// *CommandError starting "command failed: " that wraps *pool.ExitError.
func contractExit(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	out, err := c.ExecuteCommand("nosuchcommand")
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.ExitStatus() != 127 || failure.Classify(err) != failure.Exit {
		t.Fatalf("err = %#v; want *CommandError with exit status 127 (kind exit)", err)
	}
	var exit *pool.ExitError
	if !strings.Contains(out, "nosuchcommand") || ce.Output != out || !errors.As(err, &exit) {
		t.Errorf("output = %q, Output = %q; want the shell's not-found message", out, ce.Output)
	}
	key := legacy.Key(s, false)
	wantPrefix := "command failed: legacy: exec on " + key + ": "
	if msg := err.Error(); !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, "command exited with status 127 (output: ") {
		t.Errorf("Error() = %q; want %q...%q", msg, wantPrefix, "command exited with status 127 (output: ")
	}
	if ce.Op != legacy.OpExec || ce.Key != key || ce.Cmd != "nosuchcommand" {
		t.Errorf("CommandError = %+v", ce)
	}
	if out, err := c.ExecuteCommand("exit 3"); out != "" || failure.Classify(err) != failure.Exit ||
		!strings.HasPrefix(err.Error(), "command failed: ") {
		t.Errorf("exit 3 = %q, %v", out, err)
	}
}

// contractStream: the old shape, "[OUT] " and "[ERR] " lines, stderr
// included, each stream in order; a failed command returns "command
// failed: " after sending its lines.
func contractStream(t *testing.T, p legacy.ConnectionProvider, tg target) {
	c := connect(t, p, tg.e.server("s1"), false)
	got, err := collect(func(lines chan<- string) error { return c.ExecuteCommandStream(tg.yes(50), lines) })
	if err != nil || len(got) != 50 || got[0] != "[OUT] line" || got[49] != "[OUT] line" {
		t.Fatalf("stream: %d lines (%q...), err %v", len(got), first(got), err)
	}
	// Each stream's lines keep their order. Across the two streams, lines
	// come in arrival order, and the command writes them tens of
	// milliseconds apart; a scheduling delay longer than that on a loaded
	// machine can still swap them, so the interleaving gets three tries.
	want := []string{"[OUT] a", "[ERR] b", "[OUT] c"}
	for try := 1; ; try++ {
		got, err = collect(func(lines chan<- string) error { return c.ExecuteCommandStream(tg.mixed, lines) })
		out := slices.DeleteFunc(slices.Clone(got), func(l string) bool { return !strings.HasPrefix(l, "[OUT] ") })
		if err != nil || len(got) != 3 || !slices.Equal(out, []string{"[OUT] a", "[OUT] c"}) || !slices.Contains(got, "[ERR] b") {
			t.Fatalf("mixed stream: %q, %v", got, err)
		}
		if slices.Equal(got, want) {
			break
		}
		if try == 3 {
			t.Fatalf("mixed stream: %q in three tries; want %q", got, want)
		}
		t.Logf("mixed stream: %q, not in arrival order; trying again", got)
	}
	got, err = collect(func(lines chan<- string) error {
		return c.ExecuteCommandStream(tg.fail("bad", 2), lines)
	})
	var ce *legacy.CommandError
	if !errors.As(err, &ce) || ce.Op != legacy.OpStream || ce.ExitStatus() != 2 ||
		!strings.HasPrefix(err.Error(), "command failed: legacy: stream on ") || !slices.Equal(got, []string{"[ERR] bad"}) {
		t.Fatalf("failed stream: %q, %v", got, err)
	}
	if st := c.GetHealthStatus(); st.DroppedLines != 0 {
		t.Errorf("a reader that kept up lost %d lines", st.DroppedLines)
	}
}

// collect runs run with a small channel and a reader, and returns what was
// read.
func collect(run func(chan<- string) error) ([]string, error) {
	lines := make(chan string, 1) // small: streaming must not need a big buffer
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range lines {
			got = append(got, l)
		}
	}()
	err := run(lines)
	close(lines)
	<-done
	return got, err
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func contractBadArguments(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	if _, err := c.ExecuteCommand(""); !errors.Is(err, legacy.ErrEmptyCommand) {
		t.Errorf("empty command: %v", err)
	}
	if err := c.ExecuteCommandStream("true", nil); !errors.Is(err, legacy.ErrNilOutput) {
		t.Errorf("nil channel: %v", err)
	}
}

// contractHealth: TestHealth passes and records a response time; IsHealthy
// and the manager agree; UpdateLastUsed counts a use.
func contractHealth(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, true)
	if err := c.TestHealth(); err != nil || !c.IsHealthy() {
		t.Fatalf("TestHealth = %v, IsHealthy = %v", err, c.IsHealthy())
	}
	st := c.GetHealthStatus()
	if !st.Healthy || st.ResponseTime <= 0 || st.LastHealthCheck.IsZero() || st.LastError != "" {
		t.Fatalf("status after a good check: %+v", st)
	}
	c.UpdateLastUsed()
	if after := c.GetHealthStatus(); after.UseCount != st.UseCount+1 || after.LastUsed.Before(st.LastUsed) {
		t.Fatalf("UpdateLastUsed: use count %d -> %d", st.UseCount, after.UseCount)
	}
	m := c.GetManager()
	if err := m.TestConnection(); err != nil || !m.IsConnected() || m.RunCommand("true") != nil {
		t.Fatalf("manager: %v", err)
	}
	err := m.WithClient(context.Background(), func(ctx context.Context, cl pool.SSHClient) error {
		sess, err := cl.NewSession(ctx)
		if err != nil {
			return err
		}
		defer sess.Close()
		out, err := sess.Output("echo raw")
		if string(out) != "raw\n" {
			t.Errorf("raw session output %q", out)
		}
		return err
	})
	if err != nil {
		t.Fatalf("WithClient: %v", err)
	}
}

// contractManager: the old manager over the provider, and its error text.
func contractManager(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	m := legacy.NewConnectionManagerFor(p)
	if out, err := m.ExecuteCommand(s, false, "echo m"); err != nil || out != "m\n" {
		t.Fatalf("manager ExecuteCommand = %q, %v", out, err)
	}
	bad := *s
	bad.ID = ""
	if _, err := m.ExecuteCommand(&bad, false, "true"); !strings.HasPrefix(fmtErr(err), "failed to get connection: ") ||
		!errors.Is(err, legacy.ErrInvalidServer) {
		t.Fatalf("manager with a bad server: %v", err)
	}
}

// contractClosed: a closed connection refuses commands with "connection is
// not healthy: " wrapping ErrConnectionClosed; the provider serves the key
// again with a new connection.
func contractClosed(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	must(t, c.Close())
	must(t, c.Close()) // idempotent
	if info := c.GetManager().GetConnectionInfo(); info["connected"] != false {
		t.Errorf("GetConnectionInfo() after Close = %v", info)
	}
	_, err := c.ExecuteCommand("true")
	if !errors.Is(err, legacy.ErrConnectionClosed) || !strings.HasPrefix(err.Error(), "connection is not healthy: ") ||
		!errors.Is(err, pool.ErrNotStarted) || c.IsHealthy() || !c.Closed() {
		t.Fatalf("after Close: %v", err)
	}
	c2 := connect(t, p, s, false)
	if out, err := c2.ExecuteCommand("echo again"); c2 == c || err != nil || out != "again\n" {
		t.Fatalf("after Close, new connection: %q, %v (same %v)", out, err, c2 == c)
	}
}

func contractRefused(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server, want failure.Kind) {
	c, err := p.GetOrCreateConnection(s, false)
	if err == nil {
		c.Close()
		t.Fatal("GetOrCreateConnection succeeded")
	}
	var ce *legacy.CommandError
	if got := failure.Classify(err); got != want || !errors.As(err, &ce) || ce.Op != legacy.OpConnect {
		t.Fatalf("err = %v (kind %v); want a connect *CommandError of kind %v", err, got, want)
	}
	if want == failure.HostKeyChanged || want == failure.HostKeyUnknown {
		var he *sshconn.HostKeyError
		if !errors.As(err, &he) || he.Kind != want {
			t.Fatalf("err = %v; want a *sshconn.HostKeyError of kind %v", err, want)
		}
	}
}

// contractAcceptNew: an unknown host of a server that is not
// SecurityLocked is accepted and its key recorded in the server's
// known_hosts; the next connection checks against it.
func contractAcceptNew(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	if out, err := connect(t, p, s, false).ExecuteCommand("echo first"); err != nil || out != "first\n" {
		t.Fatalf("first use of an unknown host: %q, %v", out, err)
	}
	data, err := os.ReadFile(s.KnownHostsPath)
	if err != nil || bytes.Count(data, []byte("\n")) != 1 || !bytes.Contains(data, []byte(itoa(s.EffectivePort()))) {
		t.Fatalf("known_hosts after first use: %q, %v", data, err)
	}
}

// contractStatus: the provider reports the key under the old key, with
// the old JSON field names.
func contractStatus(t *testing.T, p legacy.ConnectionProvider, s *legacy.Server) {
	c := connect(t, p, s, false)
	if _, err := c.ExecuteCommand("true"); err != nil {
		t.Fatal(err)
	}
	sr, ok := p.(legacy.StatusReporter)
	if !ok {
		t.Fatal("provider reports no status")
	}
	st, ok := sr.GetConnectionStatus()[legacy.Key(s, false)]
	if !ok || !st.Healthy || st.UseCount < 1 || st.Age < 0 || st.LastUsed.IsZero() || st.Pool == "" {
		t.Fatalf("status of %s: %+v (found %v)", legacy.Key(s, false), st, ok)
	}
	b, err := json.Marshal(st)
	must(t, err)
	for _, f := range []string{`"healthy":true`, `"last_used":`, `"age":`, `"use_count":`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("status JSON %s lacks %s", b, f)
		}
	}
}

// providers builds the providers the contract runs on, over e. The
// singleton cases are added by contractCases.
func providers(t *testing.T, e *env) map[string]legacy.ConnectionProvider {
	lp := e.legacyPool(t)
	ad, _ := e.adapter(t)
	newFlagsClient, _ := newFlags(t, flagSet(100, false))
	killFlagsClient, _ := newFlags(t, flagSet(100, true))
	halfFlagsClient, _ := newFlags(t, flagSet(50, false))
	cachedClient, _ := newFlags(t, flagSet(100, false))
	minimal, _ := e.minimalAdapter(t)
	return map[string]legacy.ConnectionProvider{
		"legacy":              lp,
		"adapter":             ad,
		"adapter=minimal":     minimal,
		"router=new":          legacy.NewRouter(e.legacyPool(t), adaptr(t, e), newFlagsClient),
		"router=new/cache=on": legacy.NewRouter(e.legacyPool(t), adaptr(t, e), cachedClient, legacy.WithDecisionCache(time.Minute)),
		"router=kill":         legacy.NewRouter(e.legacyPool(t), adaptr(t, e), killFlagsClient),
		"router=50pct":        legacy.NewRouter(e.legacyPool(t), adaptr(t, e), halfFlagsClient),
		"router=noflag":       legacy.NewRouter(e.legacyPool(t), adaptr(t, e), nil2(t)),
	}
}

func adaptr(t testing.TB, e *env, opts ...legacy.Option) *legacy.Adapter {
	a, _ := e.adapter(t, opts...)
	return a
}

// runContractAll runs the contract on every provider, then on the
// singleton: with no set-up (its own dialer), and as the seam with a router
// installed (every call of GetConnectionPool() routed).
func runContractAll(t *testing.T, e *env, tg target) {
	for name, p := range providers(t, e) {
		t.Run(name, func(t *testing.T) { runContract(t, p, tg) })
	}
	t.Run("singleton=default", func(t *testing.T) {
		resetSingleton(t)
		runContract(t, legacy.GetConnectionPool(), tg)
	})
	t.Run("singleton=router", func(t *testing.T) {
		resetSingleton(t)
		client, _ := newFlags(t, flagSet(50, false))
		restore := legacy.Install(legacy.NewRouter(e.legacyPool(t), adaptr(t, e), client))
		t.Cleanup(restore)
		runContract(t, legacy.GetConnectionPool(), tg)
	})
}

func TestContractSSHTest(t *testing.T) {
	e := newEnv(t)
	runContractAll(t, e, sshtestTarget(e))
}

func TestContractSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	e := newSSHDEnv(t)
	runContractAll(t, e, sshdTarget(e))
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
			got := out + "|" + fmtErr(err)
			if w, ok := want[cmd]; ok && w != got {
				t.Errorf("%s: %q = %q; another provider gave %q", name, cmd, got, w)
			}
			want[cmd] = got
		}
	}
	t.Logf("exit 3 on every provider: %s", want["exit 3"])
}
