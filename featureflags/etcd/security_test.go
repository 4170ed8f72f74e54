package etcd_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
)

// addReader creates user with password and read access to the flag key
// only.
func addReader(t *testing.T, c *clientv3.Client, user, password string) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	steps := []func() error{
		func() error { _, err := c.RoleAdd(ctx, "flag-reader"); return err },
		func() error {
			_, err := c.RoleGrantPermission(ctx, "flag-reader", etcd.DefaultKey, "", clientv3.PermissionType(authpb.READ))
			return err
		},
		func() error { _, err := c.UserAdd(ctx, user, password); return err },
		func() error { _, err := c.UserGrantRole(ctx, user, "flag-reader"); return err },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuth: with etcd's auth on, a reader follows the key with its own
// credentials but cannot publish; a wrong password is reported without the
// password and not retried.
func TestAuth(t *testing.T) {
	srv := etcdtest.Start(t)
	ctx := ctxT(t, 30*time.Second)
	if _, err := srv.EnableAuth(ctx); err != nil {
		t.Fatal(err)
	}
	root := srv.Client(t)
	put(t, root, etcd.DefaultKey, routingDoc(false, true))
	addReader(t, root, "svc", "reader-secret-1")

	cfg := sourceConfig(srv)
	cfg.Username, cfg.Password = "svc", "reader-secret-1"
	in := startInstance(t, cfg)
	if !in.routesNew() {
		t.Fatalf("reader: document %+v, last error %v", in.provider.Document(), in.provider.LastError())
	}
	put(t, root, etcd.DefaultKey, routingDoc(true, true))
	eventually(t, hang, "a change did not reach the authenticated reader", func() bool { return !in.routesNew() })

	pub, err := etcd.NewPublisher(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pl, err := pub.PlanDocument(ctx, "f.json", []byte(routingDoc(false, false)), etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, pl, etcd.Note{}); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("a reader published: %v", err)
	}

	cfg.Password = "wrong-secret-2"
	bad := startInstance(t, cfg)
	if bad.routesNew() {
		t.Error("a refused login should leave the placeholder (legacy)")
	}
	// etcd answered: the placeholder says the key was not read, not that
	// etcd was out of reach.
	if o := bad.provider.Document().Origin; !strings.Contains(o, "key not read at start") {
		t.Errorf("placeholder origin %q after a refused login", o)
	}
	eventually(t, hang, "the refused login was not reported", func() bool {
		h := bad.provider.Stats().Health
		return !h.Connected && strings.Contains(h.Detail, "authentication failed")
	})
	const refused = "invalid authentication was requested" // etcd's log line for a refused login
	// etcd may log an attempt that timed out on the client side a little
	// later: let the count settle before watching for retries.
	attempts := strings.Count(srv.Logs(), refused)
	for settled := 0; settled < 2; {
		time.Sleep(200 * time.Millisecond)
		if n := strings.Count(srv.Logs(), refused); n == attempts {
			settled++
		} else {
			attempts, settled = n, 0
		}
	}
	if attempts == 0 {
		t.Fatalf("etcd logged no refused login:\n%s", srv.Logs())
	}
	time.Sleep(time.Second) // several backoff periods (200 ms at most)
	if again := strings.Count(srv.Logs(), refused); again != attempts {
		t.Errorf("a refused password was retried: %d attempts, then %d", attempts, again)
	}
	for _, s := range []string{bad.provider.Stats().Health.Detail, bad.src.Name(), bad.provider.Document().Origin} {
		if strings.Contains(s, "wrong-secret") {
			t.Errorf("the password leaked: %q", s)
		}
	}
}

// TestTLSFiles: a source configured from PEM files follows a server that
// requires client certificates; without the client certificate it cannot
// connect and says so.
func TestTLSFiles(t *testing.T) {
	srv := etcdtest.Start(t, etcdtest.WithTLS())
	put(t, srv.Client(t), etcd.DefaultKey, routingDoc(false, true))
	files := srv.TLSFiles()
	tc, err := etcd.TLSFiles{CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg := sourceConfig(srv)
	cfg.TLS = tc
	if in := startInstance(t, cfg); !in.routesNew() {
		t.Fatalf("document %+v", in.provider.Document())
	}
	noCert, err := etcd.TLSFiles{CAFile: files.CA}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = noCert
	in := startInstance(t, cfg)
	if in.routesNew() {
		t.Error("served without a client certificate")
	}
	eventually(t, hang, "not reported disconnected", func() bool { return !in.provider.Stats().Health.Connected })

	if _, err := (etcd.TLSFiles{CAFile: files.ClientKey}).Config(); !errors.Is(err, etcd.ErrConfig) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
	if _, err := (etcd.TLSFiles{CertFile: files.ClientCert}).Config(); !errors.Is(err, etcd.ErrConfig) {
		t.Errorf("a certificate without its key: %v", err)
	}
}

// TestConfigErrors: each invalid config names the field and never echoes a
// password.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  etcd.Config
		want string
	}{
		{"no endpoints", etcd.Config{}, "Endpoints: none given"},
		{"credentials in the URL", etcd.Config{Endpoints: []string{"http://u:hunter2@127.0.0.1:2379"}}, "credentials in the URL"},
		{"mixed schemes", etcd.Config{Endpoints: []string{"http://127.0.0.1:1", "https://127.0.0.1:2"}}, "mix http and https"},
		{"TLS on http", etcd.Config{Endpoints: []string{"http://127.0.0.1:1"}, TLS: &tls.Config{}}, "TLS: set, but the endpoints are http://"},
		{"no port", etcd.Config{Endpoints: []string{"https://etcd.example"}}, "no port"},
		{"bad scheme", etcd.Config{Endpoints: []string{"unix://x:1"}}, `scheme "unix"`},
		{"user without password", etcd.Config{Endpoints: []string{"127.0.0.1:1"}, Username: "u"}, "Username:"},
		{"key with newline", etcd.Config{Endpoints: []string{"127.0.0.1:1"}, Key: "/a\n"}, "Key:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := etcd.NewSource(tc.cfg)
			if !errors.Is(err, etcd.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("password echoed: %v", err)
			}
		})
	}
	if _, err := etcd.NewSource(etcd.Config{Endpoints: []string{"127.0.0.1:2379", "http://10.0.0.2:2379"}}); err != nil {
		t.Errorf("host:port and http URLs together: %v", err)
	}
}

// TestConfigPrintsNoPassword: a Config printed with any verb, as a value or
// a pointer, or logged with slog, shows "[REDACTED]" for its password.
func TestConfigPrintsNoPassword(t *testing.T) {
	cfg := etcd.Config{Endpoints: []string{"127.0.0.1:2379"}, Username: "svc", Password: "hunter2-secret"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg))
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("connect", "etcd", cfg)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("connect", "etcd", &cfg)
	outs = append(outs, text.String(), js.String())
	for _, out := range outs {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "[REDACTED]") || !strings.Contains(out, "svc") {
			t.Errorf("printed config: %s", out)
		}
	}
	if cfg.Password != "hunter2-secret" {
		t.Error("printing changed the config")
	}
	if s := fmt.Sprint(etcd.Config{Username: "svc"}); strings.Contains(s, "[REDACTED]") {
		t.Errorf("no password, yet %s", s)
	}
}
