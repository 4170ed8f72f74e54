package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sshpool/sshpool/app"
)

const configUsage = "usage: sshpool config defaults|validate FILE|export FILE [-preset NAME]"

// runConfig prints the defaults, validates a file, or exports a file's
// effective configuration (defaults, file, SSHPOOL_ environment) as YAML
// without secrets.
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	preset := fs.String("preset", "", "pool preset: "+strings.Join(app.Presets(), ", "))
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New(configUsage)
	}
	switch {
	case pos[0] == "defaults" && len(pos) == 1:
		c, err := app.Defaults(*preset)
		if err != nil {
			return err
		}
		return printYAML(stdout, c)
	case pos[0] == "validate" && len(pos) == 2:
		if _, err := loadFile(pos[1], *preset); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", pos[1])
		return nil
	case pos[0] == "export" && len(pos) == 2:
		c, err := loadFile(pos[1], *preset)
		if err != nil {
			return err
		}
		return printYAML(stdout, c)
	}
	return errors.New(configUsage)
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

// parseInterleaved parses flags that may come before, between or after
// positional arguments and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
