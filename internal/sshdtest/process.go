package sshdtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errBind reports that sshd could not bind its port (someone else took it).
var errBind = errors.New("sshdtest: port in use")

// process is one run of the sshd listener.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
}

// launch validates the config and starts sshd on port, returning once it
// answers with an OpenSSH banner and has written its pid file.
func (s *Server) launch(port int) (*process, error) {
	if err := s.writeConfig(port); err != nil {
		return nil, fmt.Errorf("sshdtest: %w", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		return nil, fmt.Errorf("sshdtest: privilege separation directory: %w", err)
	}
	if out, err := exec.Command(s.execPath, "-t", "-f", s.ConfigPath()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshdtest: sshd -t: %w: %s", err, bytes.TrimSpace(out))
	}
	os.Remove(filepath.Join(s.dir, pidFile)) // left behind by Kill
	logStart := s.logSize()
	cmd := exec.Command(s.execPath, "-D", "-e", "-f", s.ConfigPath())
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// If the test binary dies without running its cleanups (a timeout
	// panic, SIGKILL), the listener goes with it instead of holding the
	// port. (Pdeathsig follows the forking OS thread, which Go ends only
	// when a goroutine exits while locked to it.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sshdtest: start sshd: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait() // the exit status of a stopped sshd tells nothing
		close(p.done)
	}()
	if err := s.waitReady(p, port, logStart); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls until sshd on port sends its banner and has written its
// pid file (which it does only after binding), or it exits, or the start
// timeout passes.
func (s *Server) waitReady(p *process, port int, logStart int64) error {
	deadline := time.Now().Add(s.opts.startTimeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		select {
		case <-p.done:
			logs := s.logsSince(logStart)
			// sshd reports a bind failure only in its log.
			if strings.Contains(logs, "Address already in use") {
				return fmt.Errorf("%w: %d", errBind, port)
			}
			return fmt.Errorf("sshdtest: sshd exited at start: %s", logs)
		default:
		}
		if s.pidFileIs(p.cmd.Process.Pid) && bannerOK(addr) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshdtest: sshd on %s not ready after %v: %s", addr, s.opts.startTimeout, s.logsSince(logStart))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pidFileIs reports whether sshd's pid file holds pid.
func (s *Server) pidFileIs(pid int) bool {
	data, err := os.ReadFile(filepath.Join(s.dir, pidFile))
	return err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(pid)
}

// bannerOK reports whether addr accepts a connection and sends an OpenSSH
// version banner. It answers with a banner of its own (without one sshd
// logs an error for the probe) and half-closes, then waits for sshd's
// connection process to hang up: until it has, the probe holds one of the
// MaxStartups slots. The listener frees that slot only when it notices the
// hang-up, possibly a little later, so a client that needs every slot free
// retries a connection dropped with "Exceeded MaxStartups".
func bannerOK(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SSH-2.0-OpenSSH") {
		return false
	}
	conn.Write([]byte("SSH-2.0-sshdtest-probe\r\n"))
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, r) // sshd's KEXINIT, then EOF
	return true
}

// stop SIGKILLs the listener and all its descendants (connections and
// their commands) and waits for the listener.
func (p *process) stop() {
	if !p.exited() {
		killTree(p.cmd.Process.Pid, true)
	}
	<-p.done
}

// exited reports whether the listener has exited and been reaped: its pid
// may then name another process.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the listener only and waits for it. It returns the
// listener's descendants, which live on, so that they can be ended later.
func (p *process) kill() []procID {
	if p.exited() {
		return nil
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP) // no new connection processes
	waitStopped([]int{pid}, time.Now().Add(3*time.Second))
	orphans := descendants(pid)
	p.cmd.Process.Kill()
	<-p.done
	return orphans
}

// procID names a process robustly against pid reuse.
type procID struct {
	pid   int
	start uint64 // start time in clock ticks since boot
}

// procInfo is what killTree needs from /proc/<pid>/stat.
type procInfo struct {
	procID
	ppid    int
	zombie  bool
	stopped bool // by a signal (state T), or traced (t)
}

// readProc returns the live processes.
func readProc() map[int]procInfo {
	entries, _ := os.ReadDir("/proc")
	procs := make(map[int]procInfo, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if info, ok := statProc(pid); ok {
			procs[pid] = info
		}
	}
	return procs
}

// statProc parses /proc/<pid>/stat.
func statProc(pid int) (procInfo, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(data, ')')
	if err != nil || i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(data[i+1:])) // state ppid pgrp ... starttime is f[19]
	if len(f) < 20 {
		return procInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procInfo{procID: procID{pid, start}, ppid: ppid, zombie: f[0] == "Z", stopped: f[0] == "T" || f[0] == "t"}, true
}

// descendants returns the living (not zombie) descendants of pid, parents
// before their children.
func descendants(pid int) (ids []procID) {
	procs := readProc()
	children := map[int][]int{}
	for _, p := range procs {
		if !p.zombie {
			children[p.ppid] = append(children[p.ppid], p.pid)
		}
	}
	var walk func(int)
	walk = func(parent int) {
		for _, c := range children[parent] {
			ids = append(ids, procs[c].procID)
			walk(c)
		}
	}
	walk(pid)
	return ids
}

// killTree freezes root and its descendants with SIGSTOP, then SIGKILLs
// them all. Killing a live tree leaf by leaf races with forks: a process
// that looks childless may be forking (sshd's monitor between its pre- and
// post-auth children, a shell starting a command), and its new child would
// escape to init with the connection still open. A stopped process cannot
// fork, so once a snapshot taken after every process in it has stopped
// finds nothing new, the set is complete. Sending SIGSTOP is not enough:
// a process in the middle of fork(2) finishes it first (the child does
// not inherit the stop), and until then the child is not in /proc. Hence
// waitStopped before each snapshot. root itself is killed when self is
// set, else let go on with SIGCONT.
func killTree(root int, self bool) {
	syscall.Kill(root, syscall.SIGSTOP)
	deadline := time.Now().Add(3 * time.Second)
	waitStopped([]int{root}, deadline)
	stopped := map[int]bool{}
	for range 100 {
		var fresh []int
		for _, id := range descendants(root) {
			if !stopped[id.pid] {
				syscall.Kill(id.pid, syscall.SIGSTOP)
				stopped[id.pid] = true
				fresh = append(fresh, id.pid)
			}
		}
		if len(fresh) == 0 {
			break
		}
		waitStopped(fresh, deadline)
	}
	for pid := range stopped {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if self {
		syscall.Kill(root, syscall.SIGKILL)
	} else {
		syscall.Kill(root, syscall.SIGCONT)
	}
	waitGone(stopped)
}

// waitStopped waits, until deadline at most, until each of pids is
// stopped by a signal or has died.
func waitStopped(pids []int, deadline time.Time) {
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			if info, ok := statProc(pid); !ok || info.zombie || info.stopped {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// waitGone waits up to 3 seconds until the processes have died (they may
// stay zombies until their parent, or init, reaps them).
func waitGone(pids map[int]bool) {
	deadline := time.Now().Add(3 * time.Second)
	for pid := range pids {
		for time.Now().Before(deadline) {
			if info, ok := statProc(pid); !ok || info.zombie {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// alive reports whether id still names a running process.
func (id procID) alive() bool {
	info, ok := statProc(id.pid)
	return ok && info.start == id.start && !info.zombie
}
