package sshconn_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sshpool/sshpool/failure"
	"github.com/sshpool/sshpool/internal/inputfile"
	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

func TestHostKeyStrictKnown(t *testing.T) {
	e := newEnv(t)
	mustDial(t, e.target())
}

func TestHostKeyUnknown(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.knownHosts, "")
	_, err := dialTarget(t, e.target())
	var hkErr *sshconn.HostKeyError
	if !errors.As(err, &hkErr) || hkErr.Kind != failure.HostKeyUnknown || failure.Classify(err) != failure.HostKeyUnknown {
		t.Fatalf("err = %v, want unknown host key", err)
	}
	fp := ssh.FingerprintSHA256(e.srv.HostKey())
	hint := fmt.Sprintf("ssh-keyscan -p %d %s >> ~/.ssh/known_hosts", e.srv.Port(), e.srv.Host())
	for _, want := range []string{fp, hint, e.srv.KnownHostsLine()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		t.Error("HostKeyError must wrap *knownhosts.KeyError")
	}
}

func TestHostKeyMissingFileIsUnknown(t *testing.T) {
	e := newEnv(t)
	tgt := e.target()
	tgt.KnownHostsFiles = []string{filepath.Join(e.dir, "absent")}
	_, err := dialTarget(t, tgt)
	if failure.Classify(err) != failure.HostKeyUnknown {
		t.Fatalf("err = %v", err)
	}
}

func TestHostKeyChanged(t *testing.T) {
	e := newEnv(t)
	other, _ := newKey(t)
	writeFile(t, e.knownHosts, knownhosts.Line([]string{knownhosts.Normalize(e.srv.Addr())}, other.PublicKey())+"\n")
	for _, policy := range []sshconn.HostKeyPolicy{sshconn.HostKeyStrict, sshconn.HostKeyAcceptNew} {
		tgt := e.target()
		tgt.HostKey = policy
		_, err := dialTarget(t, tgt)
		var hkErr *sshconn.HostKeyError
		if !errors.As(err, &hkErr) || failure.Classify(err) != failure.HostKeyChanged {
			t.Fatalf("%v: err = %v, want changed", policy, err)
		}
		for _, fp := range []string{ssh.FingerprintSHA256(e.srv.HostKey()), ssh.FingerprintSHA256(other.PublicKey())} {
			if !strings.Contains(err.Error(), fp) {
				t.Errorf("%v: error %q lacks fingerprint %s", policy, err, fp)
			}
		}
	}
	if got := readFile(t, e.knownHosts); strings.Count(got, "\n") != 1 {
		t.Fatalf("accept-new must never rewrite a changed key; file:\n%s", got)
	}
}

func TestHostKeyRevoked(t *testing.T) {
	e := newEnv(t)
	line := "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.srv.HostKey())))
	writeFile(t, e.knownHosts, e.srv.KnownHostsLine()+"\n"+line+"\n")
	_, err := dialTarget(t, e.target())
	var revoked *knownhosts.RevokedError
	if failure.Classify(err) != failure.HostKeyRevoked || !errors.As(err, &revoked) {
		t.Fatalf("err = %v, want revoked", err)
	}
}

func TestHostKeyAcceptNew(t *testing.T) {
	e := newEnv(t)
	kh := filepath.Join(e.dir, "sub", "known_hosts")
	tgt := e.target()
	tgt.HostKey = sshconn.HostKeyAcceptNew
	tgt.KnownHostsFiles = []string{kh}
	var logs logBuffer
	mustDial(t, tgt, sshconn.WithLogger(logs.logger()))
	mustDial(t, tgt)
	if got := readFile(t, kh); got != e.srv.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts = %q, want the server's line once", got)
	}
	if !strings.Contains(logs.String(), ssh.FingerprintSHA256(e.srv.HostKey())) {
		t.Fatalf("accept-new must log the added fingerprint; logs: %s", logs.String())
	}
	tgt.HostKey = sshconn.HostKeyStrict
	mustDial(t, tgt) // now known
}

// TestHostKeyAcceptNewHashed: with HashKnownHosts the recorded line names
// the host only by its salted hash, and strict checking finds it.
func TestHostKeyAcceptNewHashed(t *testing.T) {
	e := newEnv(t)
	kh := filepath.Join(e.dir, "known_hosts.hashed")
	tgt := e.target()
	tgt.HostKey, tgt.HashKnownHosts = sshconn.HostKeyAcceptNew, true
	tgt.KnownHostsFiles = []string{kh}
	mustDial(t, tgt)
	mustDial(t, tgt)
	got := readFile(t, kh)
	fields := strings.Fields(got)
	host, _, _ := net.SplitHostPort(e.srv.Addr())
	if strings.Count(got, "\n") != 1 || len(fields) != 3 || !strings.HasPrefix(fields[0], "|1|") || strings.Contains(got, host) {
		t.Fatalf("known_hosts = %q, want one hashed line", got)
	}
	tgt.HostKey = sshconn.HostKeyStrict
	mustDial(t, tgt) // now known through the hash
	other, _ := newKey(t)
	writeFile(t, kh, fields[0]+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.PublicKey())))+"\n")
	if _, err := dialTarget(t, tgt); failure.Classify(err) != failure.HostKeyChanged {
		t.Fatalf("hashed entry with another key: err = %v, want failure.HostKeyChanged", err)
	}
}

// TestHostKeyAcceptNewHonoursLimits: accept-new re-reads known_hosts
// before appending within the Factory's known_hosts limits, not the
// defaults: a file over DefaultKnownHostsMaxBytes that the configured
// limit allows gets the new host, and one over the configured limit is
// refused before anything is written.
func TestHostKeyAcceptNewHonoursLimits(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", sshconn.DefaultKnownHostsMaxBytes/1024+1)
	writeFile(t, e.knownHosts, big)
	tgt := e.target()
	tgt.HostKey = sshconn.HostKeyAcceptNew
	mustDial(t, tgt, sshconn.WithKnownHostsLimits(sshconn.FileLimits{MaxBytes: 2 * sshconn.DefaultKnownHostsMaxBytes}))
	if got := readFile(t, e.knownHosts); got != big+e.srv.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts ends %q, want the server's line appended", got[max(0, len(got)-200):])
	}
	writeFile(t, e.knownHosts, big)
	_, err := dialTarget(t, tgt, sshconn.WithKnownHostsLimits(sshconn.FileLimits{MaxBytes: 1 << 20}))
	if !errors.Is(err, inputfile.ErrTooLarge) || readFile(t, e.knownHosts) != big {
		t.Fatalf("over the configured limit: err = %v, want ErrTooLarge and known_hosts unchanged", err)
	}
}

func TestHostKeyAcceptNewAppendsAfterUnterminatedLine(t *testing.T) {
	e := newEnv(t)
	other, _ := newKey(t)
	first := knownhosts.Line([]string{"otherhost"}, other.PublicKey())
	writeFile(t, e.knownHosts, first) // no trailing newline
	tgt := e.target()
	tgt.HostKey = sshconn.HostKeyAcceptNew
	mustDial(t, tgt)
	if got, want := readFile(t, e.knownHosts), first+"\n"+e.srv.KnownHostsLine()+"\n"; got != want {
		t.Fatalf("known_hosts = %q, want %q", got, want)
	}
}

func TestHostKeyAcceptNewConcurrentWritersOneLine(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.knownHosts, "")
	tgt := e.target()
	tgt.HostKey = sshconn.HostKeyAcceptNew
	reg := sshconn.NewRegistry()
	reg.Register("k", tgt)
	// Several factories (separate writers: only flock protects them) and
	// several goroutines per factory (the shared mutex).
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 3 {
		f := newFactory(reg)
		for range 4 {
			wg.Go(func() {
				c, err := f.Dial(context.Background(), "k")
				if err == nil {
					c.Close()
				}
				errs <- err
			})
		}
		_ = i
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, e.knownHosts); got != e.srv.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts after 12 concurrent first dials:\n%s", got)
	}
}

func TestHostKeyInsecureLogsEveryUse(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.knownHosts, "")
	tgt := e.target()
	tgt.HostKey = sshconn.HostKeyInsecure
	if !strings.Contains(tgt.String(), "INSECURE") {
		t.Fatalf("String() = %q must show the insecure policy", tgt.String())
	}
	var logs logBuffer
	f := newFactory(nil, sshconn.WithLogger(logs.logger()))
	for range 2 {
		c, err := f.DialTarget(context.Background(), "k", tgt)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Fatalf("want 2 WARN lines, got %d:\n%s", n, logs.String())
	}
	if readFile(t, e.knownHosts) != "" {
		t.Fatal("insecure mode must not write known_hosts")
	}
}

// hostCert signs a host certificate for host key hostKey with ca.
func hostCert(t *testing.T, ca, hostKey ssh.Signer, principals ...string) ssh.Signer {
	t.Helper()
	cert := &ssh.Certificate{Key: hostKey.PublicKey(), CertType: ssh.HostCert, KeyId: "host",
		ValidPrincipals: principals, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewCertSigner(cert, hostKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHostKeyCertAuthority(t *testing.T) {
	ca, _ := newKey(t)
	hostKey, _ := newKey(t)
	e := newEnv(t, sshtest.WithHostKey(hostCert(t, ca, hostKey, "127.0.0.1")))
	pattern := knownhosts.Normalize(e.srv.Addr())
	caLine := "@cert-authority " + pattern + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	writeFile(t, e.knownHosts, caLine+"\n")
	algos, err := sshconn.HostKeyAlgorithms([]string{e.knownHosts}, e.srv.Addr())
	if err != nil || len(algos) == 0 || algos[0] != ssh.CertAlgoED25519v01 {
		t.Fatalf("HostKeyAlgorithms = %v, %v; want certificate algorithms first", algos, err)
	}
	mustDial(t, e.target())

	// The CA revoked: refused as revoked, naming the CA's key.
	revoked := "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	writeFile(t, e.knownHosts, caLine+"\n"+revoked+"\n")
	_, err = dialTarget(t, e.target())
	var he *sshconn.HostKeyError
	if !errors.As(err, &he) || he.Kind != failure.HostKeyRevoked || he.Fingerprint != ssh.FingerprintSHA256(ca.PublicKey()) {
		t.Fatalf("revoked CA: err = %v, want failure.HostKeyRevoked for the CA's key", err)
	}
	// A different CA: refused as unknown, with the signing CA and how to
	// trust it; accept-new does not record a certificate.
	other, _ := newKey(t)
	otherLine := "@cert-authority " + pattern + " " + string(ssh.MarshalAuthorizedKey(other.PublicKey()))
	for _, policy := range []sshconn.HostKeyPolicy{sshconn.HostKeyStrict, sshconn.HostKeyAcceptNew} {
		writeFile(t, e.knownHosts, otherLine)
		tgt := e.target()
		tgt.HostKey = policy
		_, err = dialTarget(t, tgt)
		caFP := ssh.FingerprintSHA256(ca.PublicKey())
		if !errors.As(err, &he) || he.Kind != failure.HostKeyUnknown || !strings.Contains(he.CA, caFP) ||
			!strings.Contains(err.Error(), "@cert-authority") || !failure.Classify(err).Permanent() {
			t.Fatalf("%v: unknown CA: err = %v, want permanent failure.HostKeyUnknown naming CA %s", policy, err, caFP)
		}
		if got, _ := os.ReadFile(e.knownHosts); string(got) != otherLine {
			t.Errorf("%v: known_hosts changed to %q", policy, got)
		}
	}
}

func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	dir := t.TempDir()
	ed, _ := newKey(t)
	rsaPub := rsaPublicKey(t)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, strings.Join([]string{
		knownhosts.Line([]string{"[db]:2222"}, rsaPub),
		knownhosts.Line([]string{"[db]:2222", "web"}, ed.PublicKey()),
		"@cert-authority *.example.com " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ed.PublicKey()))),
	}, "\n")+"\n")
	tests := []struct {
		addr string
		want []string
	}{
		{"db:2222", []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoED25519}},
		{"web:22", []string{ssh.KeyAlgoED25519}},
		{"unknown:22", nil},
		{"a.example.com:22", []string{ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01,
			ssh.CertAlgoECDSA521v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}},
	}
	for _, tt := range tests {
		got, err := sshconn.HostKeyAlgorithms([]string{kh, filepath.Join(dir, "missing")}, tt.addr)
		if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("HostKeyAlgorithms(%s) = %v, %v; want %v", tt.addr, got, err, tt.want)
		}
	}
}

func rsaPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestAcceptNewHelperProcess is the child of
// TestHostKeyAcceptNewAcrossProcesses; it skips in normal runs.
func TestAcceptNewHelperProcess(t *testing.T) {
	addr := os.Getenv("SSHCONN_HELPER_ADDR")
	if addr == "" {
		t.Skip("helper process for TestHostKeyAcceptNewAcrossProcesses")
	}
	_, host, port, err := sshconn.ParseKey(addr)
	if err != nil {
		t.Fatal(err)
	}
	tgt := sshconn.Target{Host: host, Port: port, User: "alice", HostKey: sshconn.HostKeyAcceptNew,
		Auth:            sshconn.Auth{IdentityFiles: []string{os.Getenv("SSHCONN_HELPER_KEY")}},
		KnownHostsFiles: []string{os.Getenv("SSHCONN_HELPER_KNOWN_HOSTS")}}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			c, err := newFactory(nil).DialTarget(context.Background(), "k", tgt)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
}

// TestDevNullFiles: /dev/null, ssh's way to say "no file", works where ssh
// takes it: as the configuration file (ssh -F /dev/null), as a global
// known_hosts file beside a user file that knows the host, and as the only
// user known_hosts file with accept-new (the key is accepted for the
// connection and recorded nowhere, as ssh's write into /dev/null records
// it; TestAcceptNewDevNullTakesNoLock).
func TestDevNullFiles(t *testing.T) {
	r := &sshconn.SSHConfig{SystemPath: "none", Path: os.DevNull, Logger: discardLogger()}
	if tg, err := r.Resolve(context.Background(), "h"); err != nil || tg.Host != "h" {
		t.Fatalf("Resolve with an empty /dev/null configuration = %+v, %v; want host h", tg, err)
	}
	e := newEnv(t)
	base := fmt.Sprintf("Host h\n  HostName %s\n  Port %d\n  User alice\n  IdentityFile %s\n", e.srv.Host(), e.srv.Port(), e.keyFile)
	for _, extra := range []string{
		"UserKnownHostsFile " + e.knownHosts + "\n  GlobalKnownHostsFile /dev/null\n",
		"UserKnownHostsFile /dev/null\n  StrictHostKeyChecking accept-new\n",
	} {
		r := &sshconn.SSHConfig{SystemPath: "none", Path: writeConfig(t, base+"  "+extra), Logger: discardLogger()}
		c, err := newFactory(r).DialClient(context.Background(), "h")
		if err != nil {
			t.Errorf("%q: dial = %v", extra, err)
			continue
		}
		if got := mustRun(t, c, "echo ok"); got != "ok" {
			t.Errorf("%q: run = %q", extra, got)
		}
		c.Close()
	}
}
