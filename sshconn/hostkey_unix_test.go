//go:build unix

package sshconn_test

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHostKeyAcceptNewAcrossProcesses runs several copies of the test
// binary that record the same new host at once, while this process holds
// flock(2) on known_hosts for a moment: the children must wait for the lock
// (the file stays empty meanwhile) and then leave exactly one line.
func TestHostKeyAcceptNewAcrossProcesses(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.knownHosts, "")
	lock, err := os.OpenFile(e.knownHosts, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]string, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptNewHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SSHCONN_HELPER_ADDR="+e.srv.Addr(),
				"SSHCONN_HELPER_KNOWN_HOSTS="+e.knownHosts, "SSHCONN_HELPER_KEY="+e.keyFile)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		})
	}
	time.Sleep(500 * time.Millisecond) // let the children reach the lock
	if got := readFile(t, e.knownHosts); got != "" {
		t.Errorf("a child wrote while another process held the lock:\n%s", got)
	}
	_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	if got := readFile(t, e.knownHosts); got != e.srv.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts after 4 processes:\n%s", got)
	}
}
