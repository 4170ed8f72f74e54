package legacy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/sshpool/sshpool/internal/testenv"
	"github.com/sshpool/sshpool/legacy"
)

// TestOldCallSitesCompile builds and vets testdata/oldservice, call-site
// code of the old pool ported by changing its import lines only: every form
// of the old API must keep compiling unchanged.
func TestOldCallSitesCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds testdata/oldservice with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "go command not found: the old call sites must be built")
	}
	for _, args := range [][]string{{"build", "-o", "/dev/null", "./testdata/oldservice"}, {"vet", "./testdata/oldservice"}} {
		cmd := exec.Command(goBin, args...)
		// The real HOME: under TestMain's temporary one the go command
		// would start with an empty build and module cache (minutes of
		// downloads and compiling, and no build offline).
		cmd.Env = append(os.Environ(), "HOME="+realHome)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %v: %v\n%s", args, err, out)
		}
	}
}

// TestConnectionHealthStatusOldJSON: a status with the old fields set
// encodes as the old pool's did, with exactly its six JSON names (durations
// in nanoseconds, as time.Duration encodes) and none of the additions while
// they are zero, so an old health endpoint keeps its shape byte for byte.
func TestConnectionHealthStatusOldJSON(t *testing.T) {
	st := legacy.ConnectionHealthStatus{
		Healthy:      true,
		LastUsed:     time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Age:          2 * time.Second,
		UseCount:     3,
		LastError:    "ssh: handshake failed",
		ResponseTime: 5 * time.Millisecond,
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"healthy":true,"last_used":"2024-05-01T12:00:00Z","age":2000000000,"use_count":3,` +
		`"last_error":"ssh: handshake failed","response_time":5000000}`
	if string(b) != want {
		t.Errorf("status JSON\n got %s\nwant %s", b, want)
	}
	b, err = json.Marshal(legacy.ConnectionHealthStatus{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"healthy":false,"last_used":"0001-01-01T00:00:00Z","age":0,"use_count":0}`; string(b) != want {
		t.Errorf("zero status JSON\n got %s\nwant %s", b, want)
	}
}

// TestServerOldJSON: NewServer encodes as the old model's NewServer did,
// with its thirteen JSON names in its order and none of the additions while
// they are empty, so stored or served server records keep their shape.
func TestServerOldJSON(t *testing.T) {
	s := legacy.NewServer()
	s.ID, s.Name, s.Host = "srv1", "web-1", "10.0.0.5"
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"srv1","created":"0001-01-01T00:00:00Z","updated":"0001-01-01T00:00:00Z","name":"web-1",` +
		`"host":"10.0.0.5","port":22,"root_username":"root","app_username":"pocketbase","use_ssh_agent":true,` +
		`"manual_key_path":"","setup_complete":false,"security_locked":false,"proxy_email":""}`
	if string(b) != want {
		t.Errorf("server JSON\n got %s\nwant %s", b, want)
	}
}
