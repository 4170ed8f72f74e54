//go:build unix

package sshconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proxyKillGrace is how long a ProxyCommand has to exit after SIGHUP (what
// ssh sends it) before its process group is killed.
const proxyKillGrace = time.Second

// proxyConn is a net.Conn over the stdin and stdout of a ProxyCommand
// (ssh_config ProxyCommand): the command runs as /bin/sh -c "exec
// COMMAND" in a process group of its own. A goroutine waits for it and
// reaps it; Close closes the pipes, sends the group SIGHUP, then SIGKILL
// after proxyKillGrace, and returns once the process has been reaped.
type proxyConn struct {
	r, w   *os.File // our ends of the command's stdout and stdin
	cmd    *exec.Cmd
	stderr *tailBuffer
	remote net.Addr

	// mu guards reaped: once the leader is reaped its group id may be
	// reused, so the group is signalled only before.
	mu     sync.Mutex
	reaped bool

	exited    chan struct{} // closed when the process has been reaped
	waitErr   error         // why it exited; written before exited closes
	closeOnce sync.Once
}

// startProxyCommand runs t's ProxyCommand and returns the connection over
// its stdin and stdout.
func startProxyCommand(t Target) (net.Conn, error) {
	command, err := expandProxyCommand(t.ProxyCommand, t)
	if err != nil {
		return nil, &ConfigError{Key: t.Key, Err: err}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, proxyStartError(t, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeFiles(inR, inW)
		return nil, proxyStartError(t, err)
	}
	c := &proxyConn{r: outR, w: inW, stderr: &tailBuffer{max: proxyStderrMax}, remote: hopAddr(t),
		exited: make(chan struct{})}
	c.cmd = exec.Command("/bin/sh", "-c", command)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = inR, outW, c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.WaitDelay = proxyKillGrace // a grandchild holding stderr open
	err = c.cmd.Start()
	closeFiles(inR, outW)
	if err != nil {
		closeFiles(outR, inW)
		return nil, proxyStartError(t, err)
	}
	go c.reap()
	return c, nil
}

func closeFiles(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

func proxyStartError(t Target, err error) error {
	return &ProxyCommandError{Addr: t.Addr(), ExitStatus: -1, NotStarted: true, Err: fmt.Errorf("start /bin/sh: %w", err)}
}

// reap waits for the command and records how it ended.
func (c *proxyConn) reap() {
	err := c.cmd.Wait()
	c.mu.Lock()
	c.reaped = true
	c.mu.Unlock()
	c.waitErr = err
	close(c.exited)
}

// signal sends sig to the command's process group unless the command has
// been reaped.
func (c *proxyConn) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	}
}

// Read reads what the command wrote to its stdout.
func (c *proxyConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write writes to the command's stdin.
func (c *proxyConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close ends the command and reaps it; it is idempotent.
func (c *proxyConn) Close() error {
	c.closeOnce.Do(func() {
		closeFiles(c.w, c.r)
		c.signal(syscall.SIGHUP)
		select {
		case <-c.exited:
		case <-time.After(proxyKillGrace):
			c.signal(syscall.SIGKILL)
			<-c.exited
		}
	})
	return nil
}

// LocalAddr names the command's pipe.
func (c *proxyConn) LocalAddr() net.Addr { return proxyAddr("ProxyCommand") }

// RemoteAddr is the target's address.
func (c *proxyConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines of the pipes.
func (c *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(c.r.SetReadDeadline(t), c.w.SetWriteDeadline(t))
}

// SetReadDeadline sets the deadline of reads from the command.
func (c *proxyConn) SetReadDeadline(t time.Time) error { return c.r.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writes to the command.
func (c *proxyConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

// failure explains a handshake that failed on this connection: when the
// command has exited (or exits within wait), a *ProxyCommandError with its
// status and the end of its stderr, wrapping err; else err.
func (c *proxyConn) failure(addr string, err error, wait time.Duration) error {
	select {
	case <-c.exited:
	case <-time.After(wait):
		return err
	}
	status := -1
	var exitErr *exec.ExitError
	if errors.As(c.waitErr, &exitErr) {
		status = exitErr.ExitCode()
	} else if c.waitErr == nil {
		status = 0
	}
	return &ProxyCommandError{Addr: addr, ExitStatus: status, Stderr: c.stderr.String(), Err: err}
}

// proxyAddr is the address of a ProxyCommand's pipe.
type proxyAddr string

// Network returns "pipe".
func (proxyAddr) Network() string { return "pipe" }

// String returns the name.
func (a proxyAddr) String() string { return string(a) }
