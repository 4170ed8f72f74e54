// Package testenv holds the one rule for a test that needs a program from
// outside Go (sshd, etcd, the OpenSSH client, a browser): without it the
// test is skipped on a developer's machine and fails in CI, where the
// environment variable CI is "true" and .ci/run installs every such
// program, so that no real-server test passes there by being skipped.
package testenv
