package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// TestProgressOnTerminalOnly: bench draws its progress bar when stderr is
// a terminal (a pty here) and never on a pipe or a file.
func TestProgressOnTerminalOnly(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // until tty closes (EIO)
		read <- string(b)
	}()
	var stdout bytes.Buffer
	code := run(context.Background(), []string{"bench", "-n", "40", "-c", "2", "--cmd", "sleep 0.005"}, &stdout, tty)
	tty.Close()
	term := <-read
	if code != 0 {
		t.Fatalf("exit %d: %s", code, term)
	}
	if !strings.Contains(term, "bench") || !strings.Contains(term, "/40") {
		t.Errorf("no progress bar on the terminal:\n%q", term)
	}
	if strings.Contains(stdout.String(), "/40") || !strings.Contains(stdout.String(), "throughput:") {
		t.Errorf("progress on stdout, or no result:\n%s", stdout.String())
	}
	p := newProgress(&bytes.Buffer{}, 10, "x")
	if p.bar != nil {
		t.Error("a progress bar on a buffer")
	}
}
