package sshconn_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/pool"
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
	r := &sshconn.SSHConfig{Path: cfgPath, Home: home, LocalUser: "me",
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
	r := &sshconn.SSHConfig{Path: cfgPath, Home: dir, LocalUser: "me"}
	for _, key := range []string{"loopa", "loopb", "self"} {
		_, err := r.Resolve(context.Background(), key)
		if !errors.Is(err, sshconn.ErrJumpLoop) || pool.Classify(err) != pool.KindConfig {
			t.Errorf("%s: err = %v, want ErrJumpLoop", key, err)
		}
	}
	// "Host * !bastion" guards the bastion itself.
	tgt, err := (&sshconn.SSHConfig{Path: writeConfig(t, "Host bastion\n  HostName b\nHost * !bastion\n  ProxyJump bastion\n")}).
		Resolve(context.Background(), "anything")
	if err != nil || len(tgt.JumpHosts) != 1 || tgt.JumpHosts[0].Host != "b" {
		t.Fatalf("guarded wildcard: %v %v", tgt, err)
	}
	// Unguarded "Host *": the bastion would jump through itself.
	_, err = (&sshconn.SSHConfig{Path: writeConfig(t, "Host *\n  ProxyJump bastion\n")}).Resolve(context.Background(), "x")
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
	r := sshconn.Chain{&sshconn.SSHConfig{Path: filepath.Join(t.TempDir(), "none")}, sshconn.Plain{}}
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
	r := &sshconn.SSHConfig{Path: writeConfig(t, cfg)}
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
