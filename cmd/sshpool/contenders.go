package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/sshpool/sshpool/legacy"
)

// setupPool runs commands through the new pool (pool.Run).
func setupPool(_ context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	return poolRun(env.m.Pool, env.key, env.cmd), func() {}, nil
}

// rawMaxSessions caps the raw client's concurrent sessions at OpenSSH
// sshd's default MaxSessions: one connection carries no more.
const rawMaxSessions = 10

// setupRawClient runs each command on a new session of one x/crypto
// *ssh.Client, at most rawMaxSessions at once.
func setupRawClient(ctx context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	dctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	c, err := env.factory.DialClient(dctx, env.key)
	if err != nil {
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	raw := c.Client()
	sem := make(chan struct{}, rawMaxSessions)
	op := func(ctx context.Context) error {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-sem }()
		sess, err := raw.NewSession()
		if err != nil {
			return err
		}
		defer sess.Close()
		stop := context.AfterFunc(ctx, func() { sess.Close() })
		defer stop()
		return sess.Run(env.cmd)
	}
	return op, func() { c.Close() }, nil
}

// setupLegacy runs commands the old way on the legacy pool:
// GetOrCreateConnection, then ExecuteCommand.
func setupLegacy(_ context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	return legacyOp(env.m.Legacy, env), func() {}, nil
}

// setupAdapter runs commands the old way on the adapter (the old API
// served by the new pool).
func setupAdapter(_ context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	return legacyOp(env.m.Adapter, env), func() {}, nil
}

// legacyOp is one old-API call: the old API takes no context, so the
// command timeout is the provider's own (--timeout, set by
// openCompareEnv).
func legacyOp(p legacy.ConnectionProvider, env *compareEnv) func(context.Context) error {
	return func(context.Context) error {
		conn, err := p.GetOrCreateConnection(env.server, false)
		if err != nil {
			return err
		}
		_, err = conn.ExecuteCommand(env.cmd)
		return err
	}
}

// setupDialPerCommand dials a new connection for every command.
func setupDialPerCommand(_ context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	op := func(ctx context.Context) error {
		c, err := env.factory.DialClient(ctx, env.key)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Run(ctx, env.cmd)
		return err
	}
	return op, func() {}, nil
}

// setupControlMaster runs each command as an OpenSSH ssh process
// multiplexed over one master connection (ControlMaster=auto,
// ControlPersist); it is skipped when ssh is not installed. A configured
// target is reached with its own settings only (-F /dev/null); any other
// key is passed to ssh, which reads the user's ssh_config as sshconn does.
func setupControlMaster(ctx context.Context, env *compareEnv) (func(context.Context) error, func(), error) {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return nil, nil, errors.New("skipped: ssh (OpenSSH client) is not installed")
	}
	// A short directory: a unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "sshpool-cm-")
	if err != nil {
		return nil, nil, err
	}
	args := controlArgs(env, filepath.Join(dir, "cm"))
	op := func(ctx context.Context) error {
		// A fresh slice per call: op runs on many goroutines at once.
		cmd := exec.CommandContext(ctx, ssh, slices.Concat(args, []string{env.cmd})...)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) > 0 {
			return fmt.Errorf("ssh: %w: %s", err, trimOutput(out))
		} else if err != nil {
			return fmt.Errorf("ssh: %w", err)
		}
		return nil
	}
	teardown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		exit := slices.Concat([]string{"-O", "exit"}, args)
		exec.CommandContext(ctx, ssh, exit...).Run()
		os.RemoveAll(dir)
	}
	return op, teardown, nil
}

// controlArgs are ssh's arguments up to the command.
func controlArgs(env *compareEnv, controlPath string) []string {
	args := []string{"-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=" + controlPath,
		"-o", "ControlPersist=300", "-o", "LogLevel=ERROR"}
	if !env.configured {
		return append(args, env.key)
	}
	t := env.target
	args = append([]string{"-F", "/dev/null"}, args...)
	args = append(args, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null")
	if t.Port != 0 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if t.User != "" {
		args = append(args, "-l", t.User)
	}
	for _, f := range t.Auth.IdentityFiles {
		args = append(args, "-i", f, "-o", "IdentitiesOnly=yes")
	}
	for _, f := range t.KnownHostsFiles {
		args = append(args, "-o", "UserKnownHostsFile="+f)
	}
	return append(args, t.Host)
}

// trimOutput keeps the first line of a failed ssh's output for the error.
func trimOutput(out []byte) string {
	const max = 200
	if len(out) > max {
		out = out[:max]
	}
	for i, b := range out {
		if b == '\n' {
			return string(out[:i])
		}
	}
	return string(out)
}
