package sshtest_test

import (
	"fmt"
	"log"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshtest"
)

func Example() {
	srv, err := sshtest.Start(sshtest.WithHostname("web1"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	sess, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("hostname")
	fmt.Printf("%s%v\n", out, err)

	sess2, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess2.Close()
	err = sess2.Run("exit 3")
	fmt.Println(err)
	fmt.Println(srv.Stats().Execs)
	// Output:
	// web1
	// <nil>
	// Process exited with status 3
	// 2
}

func ExampleServer_SetMaxSessions() {
	srv, err := sshtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.SetMaxSessions(1)

	client, err := ssh.Dial("tcp", srv.Addr(), srv.ClientConfig("alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	first, err := client.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	_, err = client.NewSession()
	fmt.Println(err)
	// Output:
	// ssh: rejected: administratively prohibited ("administratively prohibited: open failed")
}
