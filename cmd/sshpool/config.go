package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sshpool/sshpool/app"
)

// configOptions are the flags every config sub-command takes.
type configOptions struct {
	preset string
	asJSON bool
}

func newConfigCmd() *cobra.Command {
	var o configOptions
	c := group("config", "Print the defaults, validate, export or diff config files",
		newConfigDefaultsCmd(&o), newConfigValidateCmd(&o), newConfigExportCmd(&o), newConfigDiffCmd(&o))
	c.Long = `Print the defaults, validate, export or diff config files.

A config file is YAML (.yaml, .yml) or JSON (.json); SSHPOOL_ environment
variables override it (SSHPOOL_POOL__MAX_CONNECTIONS=50 sets
pool.max_connections). Exported configuration never contains secrets.

With --json, defaults and export print a JSON config file (durations as
strings such as "30s", so that it loads back), and validate prints
{"file", "ok", "problems": [{"key", "value", "source": {"file", "line",
"env"}, "message"}], "warnings"}; diff prints {"pool": {"changes",
"close_idle", "over_limit_busy", "sessions_resized", "over_session_limit",
"notes"}, "applied", "pending_restart"}.`
	c.PersistentFlags().StringVar(&o.preset, "preset", "", "pool preset: "+strings.Join(app.Presets(), ", "))
	c.PersistentFlags().BoolVar(&o.asJSON, "json", false, "print the result as one JSON object on stdout")
	return c
}

func newConfigDefaultsCmd(o *configOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "defaults",
		Short: "Print the default configuration (of --preset) as YAML",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := app.Defaults(o.preset)
			if err != nil {
				return err
			}
			return printConfig(cmd.OutOrStdout(), c, o.asJSON)
		},
	}
}

func newConfigValidateCmd(o *configOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file (with the SSHPOOL_ environment) and report every problem",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.asJSON {
				return validateJSON(cmd.OutOrStdout(), a[0], o.preset)
			}
			if _, err := loadFile(a[0], o.preset, cmd.ErrOrStderr()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", a[0])
			return nil
		},
	}
}

func newConfigExportCmd(o *configOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "export FILE",
		Short: "Print the effective configuration (defaults, file, environment) as YAML, secrets redacted",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := loadFile(a[0], o.preset, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return printConfig(cmd.OutOrStdout(), c, o.asJSON)
		},
	}
}

func loadFile(path, preset string, stderr io.Writer) (app.Config, error) {
	return app.LoadWith(app.LoadOptions{Path: path, Env: os.Environ(), Preset: preset, Warn: warnTo(stderr)})
}

// warnTo prints configuration warnings on w.
func warnTo(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintf(w, "warning: %s\n", msg) }
}

// printConfig prints c as YAML, or as a JSON config file.
func printConfig(w io.Writer, c app.Config, asJSON bool) error {
	export := app.Export
	if asJSON {
		export = app.ExportJSON
	}
	b, err := export(c)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// validateResult is config validate --json's document.
type validateResult struct {
	File     string        `json:"file"`
	OK       bool          `json:"ok"`
	Problems []app.Problem `json:"problems"`
	Warnings []string      `json:"warnings"`
}

// validateJSON validates path and prints the result as JSON; a file with
// problems exits 1 after printing them.
func validateJSON(w io.Writer, path, preset string) error {
	r := validateResult{File: path, Problems: []app.Problem{}, Warnings: []string{}}
	_, err := app.LoadWith(app.LoadOptions{Path: path, Env: os.Environ(), Preset: preset,
		Warn: func(m string) { r.Warnings = append(r.Warnings, m) }})
	var ce *app.ConfigError
	switch {
	case err == nil:
		r.OK = true
	case errors.As(err, &ce):
		r.Problems = ce.Problems
	default: // the file itself: missing, unreadable, not YAML/JSON
		r.Problems = []app.Problem{{Source: app.Source{File: path}, Msg: err.Error()}}
	}
	if jerr := writeJSON(w, r); jerr != nil {
		return jerr
	}
	if err != nil {
		return exitCode(exitError)
	}
	return nil
}
