package sshtest

import (
	"fmt"
	"strings"
)

// ExitSyntax is the status of a command line that uses shell syntax the
// built-in commands do not run, as a POSIX shell's syntax errors.
const ExitSyntax = 2

// syntaxError is shell syntax that DefaultHandler does not run: it runs
// one built-in command per line, with quoting, and no shell around it.
type syntaxError struct {
	line   string
	column int    // 1-based, in runes
	what   string // "';'", "an unterminated quote"
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("unsupported shell syntax: %s at column %d of %s; this server runs one built-in command "+
		"(echo, true, false, exit, sleep, cat, hostname, whoami, env, stderr, yes) per line, not a shell",
		e.what, e.column, quoteLine(e.line))
}

// quoteLine quotes line for a message, cut when long.
func quoteLine(line string) string {
	const max = 80
	if r := []rune(line); len(r) > max {
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", line)
}

// shellOperators are the characters that, unquoted, make a line more than
// one simple command of literal words: sequencing, pipes, redirection,
// subshells, expansions and globs.
const shellOperators = ";|&<>()$`*?[{}"

// splitCommand splits a command line into words as a POSIX shell would for
// a simple command of literal words: blanks separate words; single quotes
// keep everything literal; double quotes keep everything but \" \\ \$ \`
// literal; a backslash outside quotes escapes the next character. Anything
// else a shell would interpret (operators, expansions, globs, a leading ~
// or #, NAME=value assignments, an unterminated quote) is a *syntaxError.
func splitCommand(line string) ([]string, error) {
	var (
		words []string
		word  strings.Builder
		in    bool // inside a word
		runes = []rune(line)
	)
	fail := func(i int, what string) error { return &syntaxError{line: line, column: i + 1, what: what} }
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words, in = append(words, word.String()), false
				word.Reset()
			}
			continue
		case r == '\'':
			end := indexRune(runes, i+1, '\'')
			if end < 0 {
				return nil, fail(i, "an unterminated quote")
			}
			word.WriteString(string(runes[i+1 : end]))
			i = end
		case r == '"':
			end, err := doubleQuoted(runes, i, &word, fail)
			if err != nil {
				return nil, err
			}
			i = end
		case r == '\\':
			if i+1 == len(runes) {
				return nil, fail(i, "a trailing backslash")
			}
			i++
			word.WriteRune(runes[i])
		case strings.ContainsRune(shellOperators, r):
			return nil, fail(i, fmt.Sprintf("%q", r))
		case !in && (r == '~' || r == '#'):
			return nil, fail(i, fmt.Sprintf("%q at the start of a word", r))
		case r == '=' && len(words) == 0 && isName(word.String()):
			return nil, fail(i, "an assignment (NAME=value)")
		default:
			word.WriteRune(r)
		}
		in = true
	}
	if in {
		words = append(words, word.String())
	}
	return words, nil
}

// doubleQuoted copies the double-quoted text starting at runes[start] to
// word and returns the index of the closing quote.
func doubleQuoted(runes []rune, start int, word *strings.Builder, fail func(int, string) error) (int, error) {
	for i := start + 1; i < len(runes); i++ {
		switch r := runes[i]; r {
		case '"':
			return i, nil
		case '$', '`':
			return 0, fail(i, fmt.Sprintf("%q inside double quotes", r))
		case '\\':
			if i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]) {
				i++
			}
			word.WriteRune(runes[i])
		default:
			word.WriteRune(r)
		}
	}
	return 0, fail(start, "an unterminated quote")
}

func indexRune(runes []rune, from int, r rune) int {
	for i := from; i < len(runes); i++ {
		if runes[i] == r {
			return i
		}
	}
	return -1
}

// isName reports whether s is a shell variable name.
func isName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
