package sshtest_test

import (
	"strings"
	"testing"

	"github.com/sshpool/sshpool/sshtest"
)

// TestDefaultHandlerShellSyntax: quoting works as in a shell; a line that
// needs a shell is not run (not even in part) and gets a clear error and
// status 2. The embedded server used to echo "echo out; exit 3" back as
// "out; exit 3" with status 0.
func TestDefaultHandlerShellSyntax(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("alice"))
	ok := []struct{ cmd, stdout string }{
		{`echo 'a  b' "c d" e\ f`, "a  b c d e f\n"},
		{`echo "say \"hi\" \\ \$x"`, `say "hi" \ $x` + "\n"},
		{`echo 'it''s' ""`, "its \n"},
		{`echo a=b x#y`, "a=b x#y\n"},
		{`echo '$HOME; ls | wc *'`, "$HOME; ls | wc *\n"},
	}
	for _, tt := range ok {
		stdout, stderr, err := run(t, client, tt.cmd, "")
		if exitStatus(t, err) != 0 || stdout != tt.stdout || stderr != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 0, %q", tt.cmd, exitStatus(t, err), stdout, stderr, tt.stdout)
		}
	}
	refused := []struct{ cmd, what string }{
		{"echo out; exit 3", `';' at column 9 of "echo out; exit 3"`},
		{"true && echo x", `'&' at column 6`},
		{"echo x | cat", `'|' at column 8`},
		{"echo x > /tmp/f", `'>' at column 8`},
		{"echo $HOME", `'$' at column 6`},
		{`echo "$HOME"`, `'$' inside double quotes at column 7`},
		{"echo `id`", "'`' at column 6"},
		{"ls *", `'*' at column 4`},
		{"cd ~", `'~' at the start of a word at column 4`},
		{"echo x # comment", `'#' at the start of a word at column 8`},
		{"FOO=1 env", `an assignment (NAME=value) at column 4`},
		{"echo 'open", `an unterminated quote at column 6`},
		{`echo x\`, `a trailing backslash at column 7`},
		{"(exit 3)", `'(' at column 1`},
	}
	for _, tt := range refused {
		stdout, stderr, err := run(t, client, tt.cmd, "")
		if got := exitStatus(t, err); got != sshtest.ExitSyntax || stdout != "" ||
			!strings.HasPrefix(stderr, "sshtest: unsupported shell syntax: "+tt.what) || !strings.Contains(stderr, "not a shell\n") {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %d and %q", tt.cmd, got, stdout, stderr, sshtest.ExitSyntax, tt.what)
		}
	}
}

// TestShellRequestShellSyntax: a shell session reports a line it cannot
// run and goes on with the next.
func TestShellRequestShellSyntax(t *testing.T) {
	srv := sshtest.NewServer(t)
	client := dial(t, srv, srv.ClientConfig("alice"))
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stdout, stderr strings.Builder
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader("echo a; echo b\necho 'c d'\nexit 4\n")
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	if exitStatus(t, err) != 4 || stdout.String() != "c d\n" || !strings.Contains(stderr.String(), `unsupported shell syntax: ';' at column 7`) {
		t.Errorf("status %d, stdout %q, stderr %q", exitStatus(t, err), stdout.String(), stderr.String())
	}
}
