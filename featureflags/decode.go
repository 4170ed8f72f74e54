package featureflags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds the nesting of a flag document (and so of every rule),
// keeping validation and evaluation recursion shallow whatever the input.
const maxDepth = 64

// bom is the UTF-8 byte order mark some editors write.
var bom = []byte("\xef\xbb\xbf")

// decodeDocument decodes JSON or YAML into plain JSON values (map[string]any,
// []any, string, float64, bool, nil). A failure is a structural Problem,
// located when the decoder says where.
func decodeDocument(name string, format Format, data []byte) (any, *Problem) {
	var (
		doc any
		err error
	)
	if isYAML(name, format, data) {
		doc, err = decodeYAML(data)
	} else {
		doc, err = decodeJSON(data)
	}
	if err == nil {
		doc, err = normalize(doc, 0)
	}
	if err != nil {
		p := &Problem{Kind: Structural, Message: err.Error()}
		p.Line, p.Column = errorPosition(err, data)
		return nil, p
	}
	return doc, nil
}

// isYAML picks the syntax: the format if given, else the file extension,
// else the content.
func isYAML(name string, format Format, data []byte) bool {
	if format != FormatAuto {
		return format == FormatYAML
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return true
	case ".json":
		return false
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, bom), " \t\r\n")
	return !bytes.HasPrefix(trimmed, []byte("{"))
}

// offsetError is a decoding error at a byte offset of the document.
type offsetError struct {
	offset int64
	err    error
}

func (e *offsetError) Error() string { return e.err.Error() }
func (e *offsetError) Unwrap() error { return e.err }

// decodeJSON decodes exactly one JSON value.
func decodeJSON(data []byte) (any, error) {
	skip := int64(0)
	if bytes.HasPrefix(data, bom) {
		skip = int64(len(bom))
	}
	dec := json.NewDecoder(bytes.NewReader(data[skip:]))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &offsetError{skip + se.Offset, fmt.Errorf("json: %v", err)}
		}
		return nil, &offsetError{skip + dec.InputOffset(), fmt.Errorf("json: %v", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &offsetError{skip + dec.InputOffset(), errors.New("json: data after the top-level value")}
	}
	return doc, nil
}

// decodeYAML decodes exactly one YAML document.
func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("yaml: empty document")
		}
		return nil, fmt.Errorf("yaml: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("yaml: more than one document")
	}
	return doc, nil
}

// yamlLine finds "line N" in a YAML error message.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// errorPosition locates a decoding error: the offset of a JSON error, the
// line of a YAML one; 0, 0 when unknown.
func errorPosition(err error, data []byte) (line, col int) {
	var oe *offsetError
	if errors.As(err, &oe) {
		return lineColumn(data, oe.offset)
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, 1
	}
	return 0, 0
}

// lineColumn converts a byte offset into a 1-based line and byte column.
func lineColumn(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// normalize turns decoded JSON or YAML into plain JSON values: numbers become
// finite float64, YAML scalar map keys become strings; anything else (YAML
// timestamps, binary, NaN, infinities) is rejected.
func normalize(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d", maxDepth)
	}
	switch t := v.(type) {
	case nil, bool, string:
		return t, nil
	case float64:
		return finite(t)
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case []any:
		return normalizeSlice(t, depth)
	case map[string]any:
		return normalizeMap(t, depth)
	case map[any]any:
		return normalizeAnyMap(t, depth)
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// finite rejects NaN and infinities, which JSON cannot express.
func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v is not finite", f)
	}
	return f, nil
}

// normalizeSlice normalizes every element in place.
func normalizeSlice(s []any, depth int) (any, error) {
	for i, e := range s {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		s[i] = n
	}
	return s, nil
}

// normalizeMap normalizes every value in place.
func normalizeMap(m map[string]any, depth int) (any, error) {
	for k, e := range m {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		m[k] = n
	}
	return m, nil
}

// normalizeAnyMap converts a YAML map with scalar keys (true: ..., 1: ...).
func normalizeAnyMap(m map[any]any, depth int) (any, error) {
	out := make(map[string]any, len(m))
	for k, e := range m {
		var key string
		switch k.(type) {
		case string, bool, int, int64, uint64, float64:
			key = fmt.Sprint(k)
		default:
			return nil, fmt.Errorf("unsupported map key of type %T", k)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("duplicate map key %s", quote(key))
		}
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = n
	}
	return out, nil
}
