package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"github.com/sshpool/sshpool/internal/sshdtest"
)

// TestBenchCompareRealSSHD runs bench --compare against a private OpenSSH
// sshd on 127.0.0.1 as a configured target: every contender reaches it
// with the target's key and known_hosts, host keys verified (skipped
// without sshd, failing in CI).
func TestBenchCompareRealSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("real sshd: skipped in -short mode")
	}
	srv := sshdtest.Start(t)
	cfg := writeTemp(t, "c.yaml", fmt.Sprintf("targets:\n  box:\n    host: %s\n    port: %d\n    user: %s\n"+
		"    identity_files: [%s]\n    known_hosts: [%s]\n",
		srv.Host(), srv.Port(), srv.User(), srv.ClientKeyPath(), srv.KnownHostsPath()))
	code, stdout, stderr := runCLI(t, "bench", "--compare", "--config", cfg, "--key", "box",
		"-n", "8", "-c", "4", "--rounds", "2", "--chart", "", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	var r compareResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	_, sshErr := exec.LookPath("ssh")
	for _, c := range r.Contenders {
		skippable := c.Name == "OpenSSH ControlMaster" && sshErr != nil
		if (c.Skipped != "" && !skippable) || (c.Skipped == "" && c.Succeeded != 8) {
			t.Errorf("%s: %+v", c.Name, c)
		}
	}
	// exec reaches the same target; its remote status comes back.
	if code, out, errOut := runCLI(t, "exec", "--config", cfg, "box", "--", "echo", "from sshd;", "exit", "4"); code != 4 || out != "from sshd\n" {
		t.Errorf("exec on sshd: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
