package etcdtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one run of etcd.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
}

// args returns etcd's command line: a single-member cluster named
// "etcdtest" on the server's ports and data directory. Short heartbeat and
// election timeouts make a (re)started member elect itself quickly.
func (s *Server) args() []string {
	peer := "http://127.0.0.1:" + strconv.Itoa(s.peerPort)
	a := []string{
		"--name", "etcdtest",
		"--data-dir", s.dataDir(),
		"--listen-client-urls", s.Endpoint(),
		"--advertise-client-urls", s.Endpoint(),
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "etcdtest=" + peer,
		"--initial-cluster-state", "new",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-outputs", "stderr",
		"--log-level", "warn",
	}
	if f := s.tlsFiles; f != nil {
		a = append(a, "--cert-file", f.ServerCert, "--key-file", f.ServerKey,
			"--trusted-ca-file", f.CA, "--client-cert-auth")
	}
	return a
}

// launch starts etcd and returns once it reports itself healthy.
func (s *Server) launch() (*process, error) {
	logStart := s.logSize()
	cmd := exec.Command(s.opts.binary, s.args()...)
	// No ETCD_* variable of the caller's environment may configure it.
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// If the test binary dies without running its cleanups, etcd goes with
	// it instead of holding its ports (Pdeathsig follows the forking OS
	// thread, which Go ends only when a goroutine exits locked to it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("etcdtest: start etcd: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait() // the exit status of a killed etcd tells nothing
		close(p.done)
	}()
	if err := s.waitHealthy(p, logStart); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitHealthy polls etcd's /health until it reports a leader, or etcd
// exits, or the start timeout passes.
func (s *Server) waitHealthy(p *process, logStart int64) error {
	hc := &http.Client{Timeout: time.Second}
	if s.tlsConfig != nil {
		hc.Transport = &http.Transport{TLSClientConfig: s.TLSConfig()}
	}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(s.opts.startTimeout)
	for {
		select {
		case <-p.done:
			logs := s.logsSince(logStart)
			if strings.Contains(logs, "address already in use") {
				return errBind
			}
			return fmt.Errorf("etcdtest: etcd exited at start: %s", logs)
		default:
		}
		if healthy(hc, s.Endpoint()+"/health") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcdtest: etcd on %s not healthy after %v: %s", s.Endpoint(), s.opts.startTimeout, s.logsSince(logStart))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthy reports whether url answers {"health":"true"}.
func healthy(hc *http.Client, url string) bool {
	resp, err := hc.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&h)
	return err == nil && resp.StatusCode == http.StatusOK && h.Health == "true"
}

// stop SIGKILLs etcd and waits for it to be reaped.
func (p *process) stop() {
	if !p.exited() {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// exited reports whether etcd has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logSize returns the current length of the log.
func (s *Server) logSize() int64 {
	fi, err := s.log.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logsSince returns up to 64 KiB of the log from byte offset off.
func (s *Server) logsSince(off int64) string {
	f, err := os.Open(s.log.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.NewSectionReader(f, off, 64<<10))
	return string(data)
}
