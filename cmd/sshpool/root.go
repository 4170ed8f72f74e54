package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `sshpool runs commands over SSH through a connection pool, and the
migration layer that moves a service from a singleton pool to it.

Every command runs against an embedded in-process SSH server (key "demo")
unless given a config file, so none needs an SSH host.

Flags may come anywhere on the line. Commands with --json print one JSON
document on stdout (snake_case fields, durations in seconds as numbers,
counts as integers) and keep messages on stderr; the exit code means the
same with or without it.

Exit codes: 0 success, 1 error, 2 usage error; exec exits with the remote
command's status, or 255 on an SSH-level failure.`

// newRootCmd builds the command tree writing to stdout and stderr.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "sshpool",
		Short:         "Run commands over SSH through a connection pool",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without a sub-command, or with an unknown one, the root runs and
		// reports a usage error (cobra would print help and exit 0).
		Args:                       cobra.ArbitraryArgs,
		RunE:                       groupRunE,
		SuggestionsMinimumDistance: 2,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{msg: err.Error()} })
	root.SetHelpCommand(newHelpCmd())
	root.AddCommand(
		newDemoCmd(),
		newServeCmd(),
		newExecCmd(),
		newBenchCmd(),
		newConfigCmd(),
		newFlagsCmd(),
		newVersionCmd(),
		newCompletionCmd(),
	)
	return root
}

// groupRunE is the RunE of a command that only groups sub-commands: called
// without one, or with an unknown one, it is a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usagef("missing command; one of: %s", strings.Join(subNames(cmd), ", "))
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usagef("%s; one of: %s", msg, strings.Join(subNames(cmd), ", "))
}

// group returns a command that only groups subs.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRunE, SuggestionsMinimumDistance: 2}
	c.AddCommand(subs...)
	return c
}

func subNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// newHelpCmd replaces cobra's help command, which exits 0 on an unknown
// topic.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown help topic %q", strings.Join(args, " "))
			}
			return cmd.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return subNames(cmd), cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// args wraps a cobra argument validator so that its errors are usage
// errors (exit 2).
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
}

// singleDashLong rewrites "-name" and "-name=value" to "--name" and
// "--name=value" when name is a long flag of the command args select, so
// the spellings of the standard flag package, which the CLI used before
// cobra, keep working. Arguments after "--" are left alone.
func singleDashLong(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && hasLongFlag(cmd, name) {
			out[i] = "-" + a
		}
	}
	return out
}

// hasLongFlag reports whether cmd, or an ancestor's persistent flags,
// defines the long flag name ("help" is always defined).
func hasLongFlag(cmd *cobra.Command, name string) bool {
	if name == "help" {
		return true
	}
	for c := cmd; c != nil; c = c.Parent() {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			if fs.Lookup(name) != nil {
				return true
			}
		}
	}
	return false
}
