// Command proxyrelay is the ProxyCommand of sshconn's tests, an nc-like
// relay: "proxyrelay HOST PORT" copies stdin to a TCP connection to
// HOST:PORT and the connection to stdout. Options before HOST:
//
//	-record FILE  write the arguments and the pid to FILE first
//	-hang         never connect; start a child that sleeps, then sleep
//	-ignore-hup   ignore SIGHUP (with -hang)
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	record := flag.String("record", "", "file to write the arguments and pid to")
	hang := flag.Bool("hang", false, "never connect")
	ignoreHUP := flag.Bool("ignore-hup", false, "ignore SIGHUP")
	flag.Parse()
	if *ignoreHUP {
		signal.Ignore(syscall.SIGHUP)
	}
	if *hang {
		child := exec.Command("sleep", "300")
		if err := child.Start(); err != nil {
			fail(err)
		}
		writeRecord(*record, fmt.Sprintf("pid=%d child=%d", os.Getpid(), child.Process.Pid))
		time.Sleep(300 * time.Second)
		return
	}
	writeRecord(*record, fmt.Sprintf("pid=%d args=%s", os.Getpid(), strings.Join(flag.Args(), "|")))
	if flag.NArg() < 2 {
		fail(fmt.Errorf("usage: proxyrelay HOST PORT"))
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(flag.Arg(0), flag.Arg(1)))
	if err != nil {
		fail(err)
	}
	go func() {
		_, _ = io.Copy(conn, os.Stdin)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, conn)
}

func writeRecord(file, line string) {
	if file == "" {
		return
	}
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "proxyrelay:", err)
	os.Exit(2)
}
