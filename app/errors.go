package app

import (
	"fmt"
	"strings"
)

// ConfigError reports every problem found by one configuration load (or
// Config.Validate), each naming the config key, the value and where it
// came from. Its message is prefixed "config: " once.
type ConfigError struct {
	// Problems are in file order (then environment, then defaults).
	Problems []Problem
}

// Problem is one wrong configuration key.
type Problem struct {
	// Key is the config key as a file writes it: "pool.max_connections",
	// "targets.db.port"; "" for a problem of the whole file (it does not
	// parse, or holds no sections).
	Key string `json:"key,omitempty"`
	// Value is the value as loaded, quoted when it is text and cut when
	// long; Redacted for secrets; "" when the key has no value.
	Value string `json:"value,omitempty"`
	// Source is where the value came from.
	Source Source `json:"source"`
	// Msg is what is wrong and what is wanted: "want 1..1048576",
	// "unknown key (did you mean pool.max_connections?)".
	Msg string `json:"message"`
}

// Source is where a configuration value came from: a file and line, an
// environment variable, or the defaults (the zero Source).
type Source struct {
	// File and Line locate the value in a config file (Line from 1; 0
	// when the file's line is unknown).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Env is the environment variable that set the value.
	Env string `json:"env,omitempty"`
}

// String is "sshpool.yaml:3", "env SSHPOOL_POOL__MAX_CONNECTIONS" or
// "defaults".
func (s Source) String() string {
	switch {
	case s.Env != "":
		return "env " + s.Env
	case s.File != "" && s.Line > 0:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	case s.File != "":
		return s.File
	}
	return "defaults"
}

// String is "SOURCE: KEY = VALUE, MSG" ("KEY: MSG" without a value,
// "SOURCE: MSG" without a key).
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Source.String())
	b.WriteString(": ")
	if p.Key == "" {
		b.WriteString(p.Msg)
		return b.String()
	}
	b.WriteString(p.Key)
	if p.Value != "" {
		b.WriteString(" = ")
		b.WriteString(p.Value)
		b.WriteString(",")
	} else {
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(p.Msg)
	return b.String()
}

// Error is "config: PROBLEM" for one problem, else "config: N problems:"
// and one indented line per problem.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "config: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// orNil returns e, or nil when it has no problems.
func (e *ConfigError) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// add appends a problem.
func (e *ConfigError) add(key, value, msg string) {
	e.Problems = append(e.Problems, Problem{Key: key, Value: value, Msg: msg})
}
