package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/app"
)

func newConfigCmd() *cobra.Command {
	var preset string
	c := group("config", "Print the defaults, validate or export a config file",
		newConfigDefaultsCmd(&preset), newConfigValidateCmd(&preset), newConfigExportCmd(&preset))
	c.Long = `Print the defaults, validate or export a config file.

A config file is YAML (.yaml, .yml) or JSON (.json); SSHPOOL_ environment
variables override it (SSHPOOL_POOL__MAX_CONNECTIONS=50 sets
pool.max_connections). Exported configuration never contains secrets.`
	c.PersistentFlags().StringVar(&preset, "preset", "", "pool preset: "+strings.Join(app.Presets(), ", "))
	return c
}

func newConfigDefaultsCmd(preset *string) *cobra.Command {
	return &cobra.Command{
		Use:   "defaults",
		Short: "Print the default configuration (of --preset) as YAML",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := app.Defaults(*preset)
			if err != nil {
				return err
			}
			return printYAML(cmd.OutOrStdout(), c)
		},
	}
}

func newConfigValidateCmd(preset *string) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file (with the SSHPOOL_ environment) and report every problem",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if _, err := loadFile(a[0], *preset); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", a[0])
			return nil
		},
	}
}

func newConfigExportCmd(preset *string) *cobra.Command {
	return &cobra.Command{
		Use:   "export FILE",
		Short: "Print the effective configuration (defaults, file, environment) as YAML, secrets redacted",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := loadFile(a[0], *preset)
			if err != nil {
				return err
			}
			return printYAML(cmd.OutOrStdout(), c)
		},
	}
}

func loadFile(path, preset string) (app.Config, error) {
	return app.LoadWith(app.LoadOptions{Path: path, Env: os.Environ(), Preset: preset})
}

func printYAML(w io.Writer, c app.Config) error {
	b, err := app.Export(c)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
