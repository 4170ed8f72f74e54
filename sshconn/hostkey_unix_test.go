//go:build unix

package sshconn_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sshpool/sshpool/sshconn"
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

// TestAcceptNewDevNullTakesNoLock: accept-new into /dev/null (ssh's
// UserKnownHostsFile /dev/null), named or through a link, records nothing
// and takes no flock(2) on the device, which every process on the machine
// shares: another process's lock on /dev/null must not hold a dial.
func TestAcceptNewDevNullTakesNoLock(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := syscall.Flock(int(null.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(null.Fd()), syscall.LOCK_UN)
	link := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.Symlink(os.DevNull, link); err != nil {
		t.Fatal(err)
	}
	key, _ := newKey(t)
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	var w sshconn.KnownHostsWriter
	done := make(chan error, 2)
	go func() {
		for _, f := range []string{os.DevNull, link} {
			done <- w.Add(f, []string{f}, "127.0.0.1:22", remote, key.PublicKey())
		}
	}()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Add to /dev/null = %v", err)
			}
		case <-time.After(promptly):
			t.Fatal("Add to /dev/null waited for another holder's lock on the device")
		}
	}
}
