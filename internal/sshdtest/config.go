package sshdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// writeConfig writes the sshd_config of a server listening on port.
func (s *Server) writeConfig(port int) error {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Private sshd config written by sshdtest.")
	for _, l := range s.opts.extra {
		line("%s", l)
	}
	line("ListenAddress 127.0.0.1:%d", port)
	line("Port %d", port)
	line("HostKey %s", s.quotedPath(hostKeyFile))
	if s.keys.hostCA != nil {
		line("HostCertificate %s", s.quotedPath(hostCertFile))
	}
	line("PidFile %s", s.quotedPath(pidFile))
	line("AuthorizedKeysFile %s", s.quotedPath(authorizedKeysFile))
	if s.keys.userCA != nil {
		line("TrustedUserCAKeys %s", s.quotedPath(userCAFile))
	}
	line("PubkeyAuthentication yes")
	line("PasswordAuthentication %s", yesNo(s.opts.password && !s.opts.kbdPAM))
	line("KbdInteractiveAuthentication %s", yesNo(s.opts.password))
	line("PermitEmptyPasswords no")
	line("HostbasedAuthentication no")
	line("PermitRootLogin %s", s.opts.permitRootLogin)
	line("UsePAM %s", yesNo(s.opts.kbdPAM))
	line("StrictModes no")
	line("UseDNS no")
	line("PrintMotd no")
	line("PrintLastLog no")
	line("LogLevel %s", s.opts.logLevel)
	line("MaxSessions %d", s.opts.maxSessions)
	if s.opts.maxStartups != "" {
		line("MaxStartups %s", s.opts.maxStartups)
	}
	line("AllowTcpForwarding yes")
	line("X11Forwarding no")
	line("AcceptEnv %s", AcceptedEnv)
	line("Subsystem sftp internal-sftp")
	if s.hasPenalties {
		// OpenSSH 9.8+ penalises sources whose connections fail or end
		// before authentication; tests do both on purpose, all from
		// 127.0.0.1.
		line("PerSourcePenalties no")
	}
	return os.WriteFile(s.ConfigPath(), []byte(b.String()), 0o644)
}

// quotedPath returns the path of name in the server's directory, quoted
// for sshd_config when it holds a space.
func (s *Server) quotedPath(name string) string {
	p := filepath.Join(s.dir, name)
	if strings.ContainsAny(p, " \t") {
		return strconv.Quote(p)
	}
	return p
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var versionRE = regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`)

// hasPerSourcePenalties reports whether the sshd at path is OpenSSH 9.8 or
// later, which knows PerSourcePenalties.
func hasPerSourcePenalties(path string) bool {
	out, _ := exec.Command(path, "-V").CombinedOutput() // -V exits non-zero on old versions
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major > 9 || major == 9 && minor >= 8
}
