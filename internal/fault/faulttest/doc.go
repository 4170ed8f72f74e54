// Package faulttest holds the fault-injection scenarios and the soak test of
// the pool (issue 4). It has no code of its own: the tests, in package
// faulttest_test, put a real TCP fault proxy (internal/fault/faultproxy,
// toxiproxy as a library) between a pool built on sshconn and two servers, a real
// OpenSSH sshd (internal/sshdtest) and the in-process sshtest server, and
// assert what a caller of the pool sees when connections stall half-open,
// are reset, the server restarts, the server host reboots (its connections
// die unseen until they next carry data), the network is slow,
// authentication is revoked or the server's session limit is reached.
//
// Every scenario runs against both servers, as subtests server=sshd and
// server=sshtest. Figures such as detection and recovery times are logged
// (go test -v), not asserted: the machines are shared and noisy.
//
// The soak test, TestSoak, runs only when SSHPOOL_SOAK holds a duration
// (for example SSHPOOL_SOAK=60s): hundreds of goroutines use the pool while
// a fault is injected every second, and it prints the totals at the end.
package faulttest
