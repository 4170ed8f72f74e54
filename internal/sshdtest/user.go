package sshdtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// The test user New creates when running as root.
const (
	// TestUser is the login user when the tests run as root.
	TestUser = "sshpooltest"
	// TestUserHome is TestUser's home directory. It holds no dotfiles, so
	// /bin/sh runs remote commands without any start-up cost.
	TestUserHome = "/var/lib/sshpooltest"
	// LockPath is the file New locks (flock) while it creates TestUser or
	// sets its password, so that parallel test processes do not race.
	LockPath = "/run/sshpooltest.lock"
	// PasswordPath holds TestUser's password (mode 0600) once
	// WithPasswordAuth has set it; it lives until the next boot.
	PasswordPath = "/run/sshpooltest.password"
	// PAMService is the PAM service of servers started with
	// WithKbdInteractivePAM, defined in /etc/pam.d/PAMService.
	PAMService = "sshpooltest-sshd"
)

// pamStack is /etc/pam.d/PAMService: passwords checked by pam_unix, no
// session modules that need a full system (loginuid, systemd, motd).
const pamStack = `# Written by sshpool's sshdtest for its private test sshd.
auth     required pam_unix.so nodelay
account  required pam_unix.so
session  required pam_permit.so
password required pam_deny.so
`

// ensurePAMService writes /etc/pam.d/PAMService when it is missing or
// differs, under LockPath.
func ensurePAMService() error {
	unlock, err := lockFile(LockPath)
	if err != nil {
		return err
	}
	defer unlock()
	path := "/etc/pam.d/" + PAMService
	if old, err := os.ReadFile(path); err == nil && string(old) == pamStack {
		return nil
	}
	if err := os.WriteFile(path, []byte(pamStack), 0o644); err != nil {
		return fmt.Errorf("sshdtest: PAM service: %w", err)
	}
	return nil
}

// loginUser returns the user the server will log in, creating TestUser when
// running as root, and that user's password when withPassword is set.
func loginUser(withPassword bool) (name, password string, err error) {
	if os.Geteuid() != 0 {
		if withPassword {
			return "", "", ErrNeedsRoot
		}
		u, err := user.Current()
		if err != nil {
			return "", "", fmt.Errorf("sshdtest: current user: %w", err)
		}
		return u.Username, "", nil
	}
	unlock, err := lockFile(LockPath)
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if err := ensureTestUser(); err != nil {
		return "", "", err
	}
	if withPassword {
		password, err = ensurePassword()
	}
	return TestUser, password, err
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("sshdtest: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// ensureTestUser creates TestUser and its home when missing and unlocks its
// account when the password field is "!" (locked). Call with LockPath held.
func ensureTestUser() error {
	u, err := user.Lookup(TestUser)
	if errors.As(err, new(user.UnknownUserError)) {
		err = run(nil, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", TestUserHome, "--shell", "/bin/sh", "--password", "*",
			"--comment", "sshpool test user", TestUser)
		if err == nil {
			u, err = user.Lookup(TestUser)
		}
	}
	if err != nil {
		return fmt.Errorf("sshdtest: test user %s: %w", TestUser, err)
	}
	if err := ensureHome(u); err != nil {
		return err
	}
	field, err := shadowField(TestUser)
	if err != nil || !strings.HasPrefix(field, "!") {
		return err
	}
	return run(nil, "usermod", "--password", "*", TestUser)
}

// ensureHome creates u's home directory, owned by u, mode 0755.
func ensureHome(u *user.User) error {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("sshdtest: test user ids: %w", err)
	}
	if err := os.MkdirAll(u.HomeDir, 0o755); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	if err := os.Chown(u.HomeDir, uid, gid); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	return nil
}

// ensurePassword returns TestUser's password, generating and setting one
// when PasswordPath is missing or /etc/shadow holds no hash. Call with
// LockPath held.
func ensurePassword() (string, error) {
	data, err := os.ReadFile(PasswordPath)
	if err == nil {
		field, err := shadowField(TestUser)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(field, "$") {
			return strings.TrimSpace(string(data)), nil
		}
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	if err := run(strings.NewReader(TestUser+":"+pw+"\n"), "chpasswd"); err != nil {
		return "", err
	}
	if err := os.WriteFile(PasswordPath, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("sshdtest: %w", err)
	}
	return pw, nil
}

// shadowField returns the password field of name in /etc/shadow.
func shadowField(name string) (string, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return "", fmt.Errorf("sshdtest: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 1 && fields[0] == name {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("sshdtest: /etc/shadow: %w", err)
	}
	return "", fmt.Errorf("sshdtest: %s not in /etc/shadow", name)
}

// run runs a system command, with stdin when not nil, and reports its
// output on failure.
func run(stdin *strings.Reader, name string, args ...string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		path = "/usr/sbin/" + name // PATH may lack sbin
	}
	cmd := exec.Command(path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sshdtest: %s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
