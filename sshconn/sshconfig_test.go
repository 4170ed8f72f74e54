package sshconn_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
)

const testSSHConfig = `
Host web
  HostName 10.0.0.5
  Port 2222
  User deploy
  IdentityFile ~/.ssh/id_%h_%p_%r
  IdentityFile /keys/%u/%n/%%key
  ConnectTimeout 7
  ServerAliveInterval 15

Host db
  HostName %h.internal
  ProxyJump web
  UserKnownHostsFile ~/kh1 /etc/kh2
  StrictHostKeyChecking accept-new
  HashKnownHosts yes

Host deep
  ProxyJump alice@web:2200,db

Host insecure
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null

Host lenient
  StrictHostKeyChecking no

Host strict
  StrictHostKeyChecking yes
  TCPKeepAlive no

Host loopa
  ProxyJump loopb
Host loopb
  ProxyJump loopa

Host self
  ProxyJump self

Host direct
  ProxyJump none

Host quoted
  HostName "quoted.example.com"

Host *
  User fallback
`

func TestSSHConfigResolve(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config")
	writeFile(t, cfgPath, testSSHConfig)
	home := "/home/me"
	r := &sshconn.SSHConfig{SystemPath: "none", Path: cfgPath, Home: home, LocalUser: "me",
		Defaults: sshconn.Target{KnownHostsFiles: []string{"/default/kh"}, HostKey: sshconn.HostKeyStrict}}
	tests := []struct {
		key   string
		check func(t *testing.T, tgt sshconn.Target)
	}{
		{"web", func(t *testing.T, tgt sshconn.Target) {
			want := []string{home + "/.ssh/id_10.0.0.5_2222_deploy", "/keys/me/web/%key"}
			if tgt.Addr() != "10.0.0.5:2222" || tgt.User != "deploy" || strings.Join(tgt.Auth.IdentityFiles, ",") != strings.Join(want, ",") {
				t.Fatalf("web = %v files %v", tgt, tgt.Auth.IdentityFiles)
			}
			if tgt.DialTimeout != 7*time.Second || tgt.KeepaliveInterval != 15*time.Second || len(tgt.JumpHosts) != 0 {
				t.Fatalf("web timeouts %v %v", tgt.DialTimeout, tgt.KeepaliveInterval)
			}
		}},
		{"bob@web:22", func(t *testing.T, tgt sshconn.Target) {
			if tgt.Addr() != "10.0.0.5:22" || tgt.User != "bob" || tgt.Auth.IdentityFiles[0] != home+"/.ssh/id_10.0.0.5_22_bob" {
				t.Fatalf("key overrides: %v %v", tgt, tgt.Auth.IdentityFiles)
			}
		}},
		{"db", func(t *testing.T, tgt sshconn.Target) {
			if tgt.Host != "db.internal" || tgt.User != "fallback" || tgt.HostKey != sshconn.HostKeyAcceptNew || !tgt.HashKnownHosts {
				t.Fatalf("db = %v", tgt)
			}
			if strings.Join(tgt.KnownHostsFiles, ",") != home+"/kh1,/etc/kh2" {
				t.Fatalf("db known hosts = %v", tgt.KnownHostsFiles)
			}
			if len(tgt.JumpHosts) != 1 || tgt.JumpHosts[0].Addr() != "10.0.0.5:2222" || tgt.JumpHosts[0].User != "deploy" {
				t.Fatalf("db jumps = %v", tgt.JumpHosts)
			}
		}},
		{"deep", func(t *testing.T, tgt sshconn.Target) {
			got := []string{}
			for _, j := range tgt.JumpHosts {
				got = append(got, j.User+"@"+j.Addr())
			}
			// alice@web:2200, then db (reached through it, its own ProxyJump
			// ignored as for ssh -J a,b).
			if strings.Join(got, " ") != "alice@10.0.0.5:2200 fallback@db.internal:22" || tgt.Host != "deep" {
				t.Fatalf("deep jumps = %v", got)
			}
		}},
		{"insecure", func(t *testing.T, tgt sshconn.Target) {
			if tgt.HostKey != sshconn.HostKeyInsecure {
				t.Fatalf("insecure = %v", tgt.HostKey)
			}
		}},
		{"lenient", func(t *testing.T, tgt sshconn.Target) {
			if tgt.HostKey != sshconn.HostKeyAcceptNew || tgt.KnownHostsFiles[0] != "/default/kh" || tgt.HashKnownHosts {
				t.Fatalf("lenient = %v %v", tgt.HostKey, tgt.KnownHostsFiles)
			}
		}},
		{"strict", func(t *testing.T, tgt sshconn.Target) {
			if tgt.HostKey != sshconn.HostKeyStrict || tgt.TCPKeepAlive >= 0 || tgt.User != "fallback" {
				t.Fatalf("strict = %v keepalive %v", tgt, tgt.TCPKeepAlive)
			}
		}},
		{"direct", func(t *testing.T, tgt sshconn.Target) {
			if len(tgt.JumpHosts) != 0 || tgt.Host != "direct" || tgt.Port != 0 {
				t.Fatalf("direct = %v", tgt)
			}
		}},
		{"quoted", func(t *testing.T, tgt sshconn.Target) {
			if tgt.Host != "quoted.example.com" {
				t.Fatalf("quoted = %q", tgt.Host)
			}
		}},
		{"unlisted.example.org", func(t *testing.T, tgt sshconn.Target) {
			if tgt.Host != "unlisted.example.org" || tgt.User != "fallback" || tgt.KnownHostsFiles[0] != "/default/kh" {
				t.Fatalf("unlisted = %v", tgt)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			tgt, err := r.Resolve(context.Background(), tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if tgt.Key != tt.key {
				t.Fatalf("Key = %q", tgt.Key)
			}
			tt.check(t, tgt)
		})
	}
}

func TestSSHConfigJumpLoops(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config")
	writeFile(t, cfgPath, testSSHConfig+"\nHost bastion\n  HostName b\nHost * !bastion\n  ProxyJump bastion\n")
	r := &sshconn.SSHConfig{SystemPath: "none", Path: cfgPath, Home: dir, LocalUser: "me"}
	for _, key := range []string{"loopa", "loopb", "self"} {
		_, err := r.Resolve(context.Background(), key)
		if !errors.Is(err, sshconn.ErrJumpLoop) || failure.Classify(err) != failure.Config {
			t.Errorf("%s: err = %v, want ErrJumpLoop", key, err)
		}
	}
	// "Host * !bastion" guards the bastion itself.
	tgt, err := (&sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, "Host bastion\n  HostName b\nHost * !bastion\n  ProxyJump bastion\n")}).
		Resolve(context.Background(), "anything")
	if err != nil || len(tgt.JumpHosts) != 1 || tgt.JumpHosts[0].Host != "b" {
		t.Fatalf("guarded wildcard: %v %v", tgt, err)
	}
	// Unguarded "Host *": the bastion would jump through itself.
	_, err = (&sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, "Host *\n  ProxyJump bastion\n")}).Resolve(context.Background(), "x")
	if !errors.Is(err, sshconn.ErrJumpLoop) {
		t.Fatalf("unguarded wildcard: %v", err)
	}
}

func writeConfig(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "config")
	writeFile(t, p, content)
	return p
}

func TestSSHConfigMissingFileFallsThrough(t *testing.T) {
	r := sshconn.Chain{&sshconn.SSHConfig{SystemPath: "none", Path: filepath.Join(t.TempDir(), "none")}, sshconn.Plain{}}
	tgt, err := r.Resolve(context.Background(), "u@h:1")
	if err != nil || tgt.Addr() != "h:1" {
		t.Fatalf("%v %v", tgt, err)
	}
}

// TestSSHConfigDialsThroughProxyJump resolves an alias whose ProxyJump
// names another alias, both served by sshtest, and runs a command.
func TestSSHConfigDialsThroughProxyJump(t *testing.T) {
	jump, final := newEnv(t), newEnv(t)
	cfg := "Host jump\n  HostName 127.0.0.1\n  Port " + strconv.Itoa(jump.srv.Port()) +
		"\n  UserKnownHostsFile " + jump.knownHosts + "\n  IdentityFile " + jump.keyFile +
		"\nHost final\n  HostName 127.0.0.1\n  Port " + strconv.Itoa(final.srv.Port()) +
		"\n  ProxyJump jump\n  UserKnownHostsFile " + final.knownHosts + "\n  IdentityFile " + final.keyFile +
		"\nHost *\n  User alice\n"
	r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg)}
	c, err := newFactory(r).DialClient(context.Background(), "final")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustRun(t, c, "true")
	if final.srv.Stats().ConnsAccepted != 1 || jump.srv.Stats().ChannelsOpened != 1 {
		t.Fatal("the dial must go through the jump host")
	}
}

// TestSSHConfigInvalidValues: a value OpenSSH would reject is an error
// naming the file, the line, the keyword and what it accepts, never a
// silent fallback to the default. As in ssh, it is an error whether or
// not the line's block applies to the host resolved.
func TestSSHConfigInvalidValues(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"Port 99999", `config line 3: Port "99999": want a port number 1..65535`},
		{"Port 0", `config line 3: Port "0": want a port number 1..65535`},
		{"Port ssh", `config line 3: Port "ssh": want a port number 1..65535`},
		{"ConnectTimeout -3", `config line 3: ConnectTimeout "-3": want seconds, or a time such as 30s, 5m, 1h30m`},
		{"ServerAliveInterval 5x", `config line 3: ServerAliveInterval "5x": want seconds`},
		{"ServerAliveInterval 60w", `config line 3: ServerAliveInterval "60w": want seconds`},
		{"TCPKeepAlive maybe", `config line 3: TCPKeepAlive "maybe": want yes or no`},
		{"HashKnownHosts 1", `config line 3: HashKnownHosts "1": want yes or no`},
		{"StrictHostKeyChecking sometimes", `config line 3: StrictHostKeyChecking "sometimes": want yes, no, true, false, ask, off, accept-new`},
		{"Port 22 23", `config line 3: Port: extra arguments at end of line`},
		{"Bogus yes", `config line 3: bad configuration option: bogus`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			writeFile(t, path, "Host web\n  HostName 10.0.0.5\n  "+tc.line+"\n")
			r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me"}
			for _, host := range []string{"web", "other"} {
				tgt, err := r.Resolve(context.Background(), host)
				var ce *sshconn.ConfigError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Resolve(%s) = %v, %v; want a ConfigError containing %q", host, tgt, err, tc.want)
				}
			}
			_, err := r.Resolve(context.Background(), "web")
			if failure.Classify(err) != failure.Config {
				t.Errorf("kind %v, want config", failure.Classify(err))
			}
		})
	}
}

// TestSSHConfigBooleanSpellings: ssh takes true and false wherever it
// takes yes and no.
func TestSSHConfigBooleanSpellings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, "Host a\n  TCPKeepAlive false\n  HashKnownHosts TRUE\n  StrictHostKeyChecking false\nHost b\n  StrictHostKeyChecking true\n")
	r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me",
		Defaults: sshconn.Target{KnownHostsFiles: []string{"/kh"}, HostKey: sshconn.HostKeyAcceptNew}}
	a, err := r.Resolve(context.Background(), "a")
	if err != nil || a.TCPKeepAlive >= 0 || !a.HashKnownHosts || a.HostKey != sshconn.HostKeyAcceptNew {
		t.Fatalf("a = %v (keepalive %v, hashed %v), %v", a, a.TCPKeepAlive, a.HashKnownHosts, err)
	}
	b, err := r.Resolve(context.Background(), "b")
	if err != nil || b.HostKey != sshconn.HostKeyStrict {
		t.Fatalf("b = %v, %v; want strict", b, err)
	}
}

// TestSSHConfigTimeFormat: ConnectTimeout and ServerAliveInterval accept
// OpenSSH's time format, as ssh does.
func TestSSHConfigTimeFormat(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"90": 90 * time.Second, "90s": 90 * time.Second, "2m": 2 * time.Minute,
		"1h30m": 90 * time.Minute, "1H5S": time.Hour + 5*time.Second, "0": 0, "1w": 7 * 24 * time.Hour,
	} {
		path := filepath.Join(t.TempDir(), "config")
		writeFile(t, path, "Host web\n  ConnectTimeout "+v+"\n  ServerAliveInterval "+v+"\n")
		r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me"}
		tgt, err := r.Resolve(context.Background(), "web")
		if err != nil || tgt.DialTimeout != want || tgt.KeepaliveInterval != want {
			t.Errorf("%q: dial timeout %v, keepalive %v, err %v; want %v", v, tgt.DialTimeout, tgt.KeepaliveInterval, err, want)
		}
	}
}

// TestSSHConfigJumpLimits: a chain of more than MaxJumpDepth hops is
// refused as ErrJumpLoop, and a configuration whose ProxyJump lines fan
// out (every hop listing several hops that list several more) resolves in
// time linear in its size: only a chain's first hop has its own ProxyJump
// followed, as in OpenSSH. Before, every later hop's chain was resolved and
// thrown away: 6 hops per line over 8 levels meant 6^8 resolutions.
func TestSSHConfigJumpLimits(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("Host wide\n  ProxyJump h1,h2,h3,h4,h5,h6,h7,h8,h9\n")
	// Hops alternate between l and m: a hop reached through itself ("a,a")
	// is a loop of its own (TestSSHConfigSelfJump).
	cfg.WriteString("Host fan\n  ProxyJump l0,m0,l0,m0,l0,m0\n")
	for i := range 7 { // l7 and m7 have no ProxyJump: the chain stays within the depth limit
		fmt.Fprintf(&cfg, "Host l%d m%d\n  ProxyJump l%d,m%d,l%d,m%d,l%d,m%d\n", i, i, i+1, i+1, i+1, i+1, i+1, i+1)
	}
	cfg.WriteString("Host ok\n  ProxyJump j1,j2\nHost j1\n  ProxyJump j0\nHost j2\n  ProxyJump unresolvable-loop\nHost unresolvable-loop\n  ProxyJump unresolvable-loop\n")
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, cfg.String())
	r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me"}
	resolve := func(key string) (sshconn.Target, error) {
		type result struct {
			t   sshconn.Target
			err error
		}
		done := make(chan result, 1)
		go func() {
			tg, err := r.Resolve(context.Background(), key)
			done <- result{tg, err}
		}()
		select {
		case res := <-done:
			return res.t, res.err
		case <-time.After(10 * time.Second):
			t.Fatalf("Resolve(%q) still running after 10s", key)
			return sshconn.Target{}, nil
		}
	}
	for key, want := range map[string]string{"wide": "more than 8 jump hosts", "fan": "more than 8 jump hosts"} {
		if tg, err := resolve(key); !errors.Is(err, sshconn.ErrJumpLoop) || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) = %v, %v; want ErrJumpLoop saying %q", key, tg, err, want)
		}
	}
	// j2's own ProxyJump (a loop) is not followed: j2 is reached through j1.
	tg, err := resolve("ok")
	if err != nil {
		t.Fatalf("Resolve(ok) = %v", err)
	}
	var hops []string
	for _, j := range tg.JumpHosts {
		hops = append(hops, j.Host)
	}
	if got := strings.Join(hops, ","); got != "j0,j1,j2" {
		t.Errorf("ok reached via %s, want j0,j1,j2", got)
	}
}

// TestSSHConfigErrorsQuoteShortly: a configuration error or warning
// quotes the offending value cut to a short prefix with its size, never
// the whole of it (a 500 kB value is not echoed).
func TestSSHConfigErrorsQuoteShortly(t *testing.T) {
	huge := strings.Repeat("a", 500_000)
	for _, cfg := range []string{
		"Host *\n  " + huge + " yes\n",
		"Host *\n  Port 9" + huge + "\n",
		"Host *\n  HostName %q" + huge + "\n",
		"Host *\n  ProxyJump " + huge + ":0\n",
		"Host *\n  ProxyJump " + huge + "\n",
		"Host *\n  UserKnownHostsFile /" + huge + "%x\n",
		"Host *\n  IdentityFile ${" + huge + "}\n",
		"Host *\n  IdentityAgent $" + huge + "-\n",
		"Match " + huge + " x\n",
		"Match host\n" + huge,
		"Include ~" + huge + "/x\n",
		"Host *\n  RevokedHostKeys /" + huge + "\n",
	} {
		r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, cfg), Home: t.TempDir(), LocalUser: "me", Logger: discardLogger()}
		_, err := r.Resolve(context.Background(), "web")
		var ce *sshconn.ConfigError
		if !errors.As(err, &ce) || len(err.Error()) > 600 || !strings.Contains(err.Error(), "bytes)") {
			msg := fmt.Sprint(err)
			t.Errorf("config %.40q…: error of %d bytes %.300q…; want a ConfigError quoting a short prefix", cfg, len(msg), msg)
		}
	}
	var logs logBuffer
	r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, "Host *\n  ForwardAgent /"+huge+"\n"), LocalUser: "me", Logger: logs.logger()}
	if _, err := r.Resolve(context.Background(), "web"); err != nil || logs.String() == "" || len(logs.String()) > 1000 {
		t.Errorf("ForwardAgent warning: err %v, log of %d bytes; want a short warning", err, len(logs.String()))
	}
}

// TestSSHConfigSelfJump: a ProxyJump whose last hop is the target itself
// (host name, user and port) is refused as ErrJumpLoop, as ssh refuses it
// ("jumphost loop"); the same host with another user or port is not a
// loop.
func TestSSHConfigSelfJump(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, "Host named\n  HostName box.example\n  ProxyJump box.example\n"+
		"Host twice\n  ProxyJump hop,hop\nHost otheruser\n  HostName box.example\n  ProxyJump admin@box.example\n"+
		"Host otherport\n  HostName box.example\n  ProxyJump box.example:2222\n")
	r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me"}
	for _, key := range []string{"named", "twice"} {
		if _, err := r.Resolve(context.Background(), key); !errors.Is(err, sshconn.ErrJumpLoop) || !strings.Contains(err.Error(), "jumps through itself") {
			t.Errorf("Resolve(%q) = %v, want ErrJumpLoop: jumps through itself", key, err)
		}
	}
	for _, key := range []string{"otheruser", "otherport"} {
		if tg, err := r.Resolve(context.Background(), key); err != nil || len(tg.JumpHosts) != 1 {
			t.Errorf("Resolve(%q) = %v, %v; want one jump host", key, tg.JumpHosts, err)
		}
	}
}

// TestSSHConfigTokens: IdentityFile and UserKnownHostsFile take every
// token ssh gives them; an unknown token, a lone %, or a token HostName
// does not take is a ConfigError naming it.
func TestSSHConfigTokens(t *testing.T) {
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	uid := strconv.Itoa(os.Getuid())
	sum := sha1.Sum([]byte(host + "10.0.0.5" + "2222" + "deploy")) // %C of OpenSSH 9.2: %l%h%p%r
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, "Host web\n  HostName 10.0.0.5\n  Port 2222\n  User deploy\n  ProxyJump bastion\n"+
		"  IdentityFile /k/%i/%l/%L/%k/%j/%C\n  UserKnownHostsFile /kh/%n-%h-%%\n"+
		"Host bad\n  IdentityFile /k/%x\nHost lone\n  UserKnownHostsFile /kh/100%\nHost hn\n  HostName %p.example\n")
	r := &sshconn.SSHConfig{SystemPath: "none", Path: path, Home: "/home/me", LocalUser: "me"}
	tg, err := r.Resolve(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	want := "/k/" + uid + "/" + host + "/" + short + "/web/bastion/" + hex.EncodeToString(sum[:])
	if len(tg.Auth.IdentityFiles) != 1 || tg.Auth.IdentityFiles[0] != want {
		t.Errorf("IdentityFile = %v, want %s", tg.Auth.IdentityFiles, want)
	}
	if len(tg.KnownHostsFiles) != 1 || tg.KnownHostsFiles[0] != "/kh/web-10.0.0.5-%" {
		t.Errorf("UserKnownHostsFile = %v", tg.KnownHostsFiles)
	}
	for key, want := range map[string]string{
		"bad":  `config line 9: IdentityFile "/k/%x": want only the tokens %C %d %h %i %j %k %L %l %n %p %r %u %% (unknown %x)`,
		"lone": `config line 11: UserKnownHostsFile "/kh/100%": want only the tokens`,
		"hn":   `config line 13: HostName "%p.example": want only the tokens %h %% (unknown %p)`,
	} {
		var ce *sshconn.ConfigError
		if _, err := r.Resolve(context.Background(), key); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) = %v, want a ConfigError containing %q", key, err, want)
		}
	}
}
