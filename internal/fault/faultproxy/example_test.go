package faultproxy_test

import (
	"fmt"
	"log"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/internal/fault/faultproxy"
	"github.com/sshpool/sshpool/sshtest"
)

// Example puts a proxy between an SSH client and an sshtest server and
// stalls it: a keepalive gets no answer until the fault is removed.
func Example() {
	srv, err := sshtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	px, err := faultproxy.New(srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer px.Close()

	client, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	stall, err := px.Stall(faultproxy.Both)
	if err != nil {
		log.Fatal(err)
	}
	reply := make(chan error, 1)
	go func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		reply <- err
	}()
	select {
	case <-reply:
		fmt.Println("answered during the stall")
	case <-time.After(200 * time.Millisecond):
		fmt.Println("no answer while stalled")
	}
	if err := stall.Remove(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stalled connection closed:", <-reply != nil)

	client2, err := ssh.Dial("tcp", px.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer client2.Close()
	sess, err := client2.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("echo healed")
	fmt.Printf("%s%v\n", out, err)
	// Output:
	// no answer while stalled
	// stalled connection closed: true
	// healed
	// <nil>
}
