package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// documentError is the problem of a config file that does not parse, or
// whose top level is not sections: located at its line where the parser
// says (a JSON error's offset, the YAML node that is not a mapping), and
// worded for the file's author, never as the Go types it decodes into.
func documentError(path string, data []byte, isJSON bool, err error) *ConfigError {
	p := Problem{Source: Source{File: path}, Msg: err.Error()}
	if isJSON {
		p.Source.Line, p.Msg = jsonProblem(data, err)
	} else {
		p.Source.Line, p.Msg = yamlProblem(data, err)
	}
	return &ConfigError{Problems: []Problem{p}}
}

// jsonProblem locates a JSON decoding error by its offset.
func jsonProblem(data []byte, err error) (line int, msg string) {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		// Offset counts the bytes read, the offending one included.
		line, col := lineColumn(data, syntax.Offset-1)
		return line, fmt.Sprintf("not valid JSON at column %d: %v", col, syntax)
	case errors.As(err, &typ):
		// The document decodes into an object: only its top level can
		// have the wrong type, and it starts at the first non-blank byte.
		start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
		line, _ := lineColumn(data, int64(start))
		return line, fmt.Sprintf(`want an object of sections such as {"pool": {...}}, not %s %s`, article(typ.Value), typ.Value)
	}
	return 0, "not valid JSON: " + err.Error()
}

// yamlProblem reports a YAML document that does not parse as the parser
// words it (with its line), and one that parses but is not a mapping at
// the top level by its line and kind.
func yamlProblem(data []byte, err error) (line int, msg string) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0, err.Error()
	}
	top := doc.Content[0]
	if top.Kind == yaml.MappingNode {
		return 0, err.Error()
	}
	what := "a single value"
	if top.Kind == yaml.SequenceNode {
		what = "a list"
	}
	return top.Line, `want sections (key: value lines such as "pool:"), not ` + what
}

// lineColumn returns the line and byte column, both from 1, of the byte
// at index i of data.
func lineColumn(data []byte, i int64) (line, col int) {
	before := data[:min(max(i, 0), int64(len(data)))]
	return bytes.Count(before, []byte("\n")) + 1, len(before) - bytes.LastIndexByte(before, '\n')
}

// article is "an" before a vowel ("an array"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
