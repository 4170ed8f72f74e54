package sshconn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/sshconn"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		key, user, host string
		port            int
		bad             bool
	}{
		{key: "web1", host: "web1"},
		{key: "alice@web1", user: "alice", host: "web1"},
		{key: "alice@web1:2222", user: "alice", host: "web1", port: 2222},
		{key: "10.0.0.5:22", host: "10.0.0.5", port: 22},
		{key: "[::1]:2222", host: "::1", port: 2222},
		{key: "bob@[fe80::1]:22", user: "bob", host: "fe80::1", port: 22},
		{key: "::1", host: "::1"},
		{key: "[::1]", host: "::1"},
		{key: "a@b@host", user: "a@b", host: "host"},
		{key: "host:0", bad: true},
		{key: "host:99999", bad: true},
		{key: "host:ssh", bad: true},
		{key: "alice@", bad: true},
		{key: "", bad: true},
	}
	for _, tt := range tests {
		user, host, port, err := sshconn.ParseKey(tt.key)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseKey(%q) = %q %q %d, want error", tt.key, user, host, port)
			}
			continue
		}
		if err != nil || user != tt.user || host != tt.host || port != tt.port {
			t.Errorf("ParseKey(%q) = %q %q %d %v, want %q %q %d", tt.key, user, host, port, err, tt.user, tt.host, tt.port)
		}
	}
}

func TestPlainResolver(t *testing.T) {
	p := sshconn.Plain{Defaults: sshconn.Target{User: "deploy", Port: 2200, HostKey: sshconn.HostKeyAcceptNew}}
	tgt, err := p.Resolve(context.Background(), "web1")
	if err != nil || tgt.User != "deploy" || tgt.Port != 2200 || tgt.Host != "web1" || tgt.HostKey != sshconn.HostKeyAcceptNew {
		t.Fatalf("Resolve(web1) = %+v, %v", tgt, err)
	}
	tgt, _ = p.Resolve(context.Background(), "root@[::1]:22")
	if tgt.Addr() != "[::1]:22" || tgt.User != "root" || tgt.Key != "root@[::1]:22" {
		t.Fatalf("Resolve(ipv6) = %v", tgt)
	}
	if _, err := p.Resolve(context.Background(), "x:bad"); failure.Classify(err) != failure.Config {
		t.Fatalf("bad key: %v", err)
	}
}

func TestRegistryAndChain(t *testing.T) {
	reg := sshconn.NewRegistry()
	reg.Register("db:5432:7:root", sshconn.Target{Host: "db.internal", User: "root"})
	chain := sshconn.Chain{reg, sshconn.Plain{}}
	tgt, err := chain.Resolve(context.Background(), "db:5432:7:root")
	if err != nil || tgt.Host != "db.internal" || tgt.Key != "db:5432:7:root" {
		t.Fatalf("registered: %+v %v", tgt, err)
	}
	tgt, err = chain.Resolve(context.Background(), "carol@web")
	if err != nil || tgt.Host != "web" || tgt.User != "carol" {
		t.Fatalf("plain fallback: %+v %v", tgt, err)
	}
	reg.Unregister("db:5432:7:root")
	if _, err := reg.Resolve(context.Background(), "db:5432:7:root"); !errors.Is(err, sshconn.ErrNotFound) {
		t.Fatalf("unregistered: %v", err)
	}
	_, err = sshconn.Chain{reg}.Resolve(context.Background(), "x")
	var ce *sshconn.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, sshconn.ErrNotFound) || failure.Classify(err) != failure.Config {
		t.Fatalf("empty chain: %v", err)
	}
	custom := sshconn.ResolverFunc(func(_ context.Context, key string) (sshconn.Target, error) {
		return sshconn.Target{Host: "custom-" + key}, nil
	})
	if tgt, _ := (sshconn.Chain{reg, custom}).Resolve(context.Background(), "k"); tgt.Host != "custom-k" {
		t.Fatalf("custom resolver: %v", tgt)
	}
}

func TestTargetString(t *testing.T) {
	tgt := sshconn.Target{Host: "10.0.0.5", User: "deploy",
		Auth:      sshconn.Auth{Secrets: sshconn.StaticPassword(sshconn.NewSecret("pw-123"))},
		JumpHosts: []sshconn.Target{{Host: "bastion", User: "ops", Port: 2222}}}
	if got, want := tgt.String(), "deploy@10.0.0.5:22 via ops@bastion:2222"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	tgt.HostKey = sshconn.HostKeyInsecure
	if got := tgt.String(); got != "deploy@10.0.0.5:22 via ops@bastion:2222 hostkey=INSECURE" {
		t.Fatalf("String() = %q", got)
	}
}
