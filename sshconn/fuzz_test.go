package sshconn

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// FuzzSSHConfigResolve feeds arbitrary ssh_config text to Resolve. It must
// never panic or loop; it either fails with a typed error or returns a
// target with a host, a port in range, a user and a jump chain no longer
// than MaxJumpDepth.
//
//	go test -run '^$' -fuzz FuzzSSHConfigResolve -fuzztime 60s ./sshconn/
func FuzzSSHConfigResolve(f *testing.F) {
	for _, seed := range []string{
		"Host web\n  HostName 10.0.0.5\n  Port 2222\n  User deploy\n  IdentityFile ~/.ssh/id_%h_%p_%r\n",
		"Host db\n  HostName %h.internal\n  ProxyJump web\nHost web\n  ProxyJump db\n",
		"Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  HashKnownHosts yes\n",
		"Host web\n  Port 99999\n  ConnectTimeout -3\n  ServerAliveInterval x\n  TCPKeepAlive maybe\n",
		"Match host web\n  User m\nHost web\n  ProxyJump a@b:1,c@d:2,none\n",
		"Host web\n\tHostName [::1]\n\tIdentityFile \"%d/with space\" %%\n",
	} {
		f.Add(seed, "web")
		f.Add(seed, "alice@web:2200")
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, config, key string) {
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &SSHConfig{SystemPath: "none", Path: path, Home: dir, LocalUser: "local"}
		var tg Target
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			tg, err = s.Resolve(context.Background(), key)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Resolve(%q) still running after 5s on config:\n%s", key, config)
		}
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("Resolve: untyped error %T: %v", err, err)
			}
			return
		}
		checkTarget(t, tg, 0)
	})
}

func checkTarget(t *testing.T, tg Target, depth int) {
	t.Helper()
	if tg.Host == "" || tg.Port < 0 || tg.Port > 65535 || tg.User == "" {
		t.Fatalf("Resolve returned an unusable target %#v (host %q, port %d, user %q)", tg, tg.Host, tg.Port, tg.User)
	}
	if depth+len(tg.JumpHosts) > MaxJumpDepth {
		t.Fatalf("jump chain of %d hops, over MaxJumpDepth %d", depth+len(tg.JumpHosts), MaxJumpDepth)
	}
	for _, j := range tg.JumpHosts {
		checkTarget(t, j, depth+1)
	}
}

// FuzzKnownHostsCheck verifies a fixed host key against arbitrary
// known_hosts content. It must never panic, must fail with a
// *HostKeyError (or refuse the file with a *ConfigError), and must accept
// the key only when the file holds that key.
//
//	go test -run '^$' -fuzz FuzzKnownHostsCheck -fuzztime 60s ./sshconn/
func FuzzKnownHostsCheck(f *testing.F) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		f.Fatal(err)
	}
	other, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	otherKey, _ := ssh.NewPublicKey(other)
	const host = "web.example:2222"
	for _, seed := range []string{
		knownhosts.Line([]string{host}, key),
		knownhosts.Line([]string{host}, otherKey),
		knownhosts.Line([]string{knownhosts.HashHostname(host)}, key),
		"@revoked * " + string(ssh.MarshalAuthorizedKey(key)),
		"@cert-authority *.example " + string(ssh.MarshalAuthorizedKey(otherKey)),
		"# comment\n\n!web.example,* " + string(ssh.MarshalAuthorizedKey(key)),
		"|1|bad|hash ssh-ed25519 AAAA\n[web.example]:2222 ssh-rsa AAAAB3",
	} {
		f.Add(seed)
	}
	marshalled := base64.StdEncoding.EncodeToString(key.Marshal())
	dir := f.TempDir()
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	f.Fuzz(func(t *testing.T, content string) {
		file := filepath.Join(dir, "known_hosts")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		kh, err := loadKnownHosts(context.Background(), []string{file}, FileLimits{})
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("loadKnownHosts: untyped error %T: %v", err, err)
			}
			return
		}
		err = kh.check(host, remote, key)
		if err == nil {
			if !strings.Contains(content, marshalled) {
				t.Fatalf("key accepted by a known_hosts file that does not hold it:\n%s", content)
			}
			return
		}
		var he *HostKeyError
		if !errors.As(err, &he) {
			t.Fatalf("check: untyped error %T: %v", err, err)
		}
	})
}
