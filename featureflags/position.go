package featureflags

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// position is a 1-based line and byte column.
type position struct{ line, col int }

// positions maps JSON Pointers of a document's values to where they start.
// It is built only by Lint: the load path does not pay for it.
type positions map[string]position

// indexPositions locates every value of a document that decodes; an
// undecodable document gives an empty index.
func indexPositions(name string, format Format, data []byte) positions {
	idx := positions{}
	if isYAML(name, format, data) {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			idx.yamlNode(&root, nil, 0)
		}
		return idx
	}
	skip := int64(0)
	if bytes.HasPrefix(data, bom) {
		skip = int64(len(bom))
	}
	w := &jsonWalker{data: data, skip: skip, dec: json.NewDecoder(bytes.NewReader(data[skip:])), idx: idx}
	w.dec.UseNumber()
	_ = w.value(nil, 0) // a syntax error ends the index where it is
	return idx
}

// at returns the position of the value at path, or of its nearest located
// ancestor; zero when nothing is located.
func (idx positions) at(path []string) position {
	for n := len(path); n >= 0; n-- {
		if p, ok := idx[pointer(path[:n])]; ok {
			return p
		}
	}
	return position{}
}

// yamlNode records n and its descendants.
func (idx positions) yamlNode(n *yaml.Node, path []string, depth int) {
	if n == nil || depth > maxDepth+2 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			idx.yamlNode(n.Content[0], path, depth+1)
		}
		return
	case yaml.AliasNode:
		idx[pointer(path)] = position{n.Line, n.Column}
		return
	}
	idx[pointer(path)] = position{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			idx.yamlNode(n.Content[i+1], append(path, n.Content[i].Value), depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			idx.yamlNode(c, append(path, strconv.Itoa(i)), depth+1)
		}
	}
}

// jsonWalker records the start of every JSON value from the decoder's
// tokens.
type jsonWalker struct {
	data []byte
	skip int64 // bytes before what dec reads (a BOM)
	dec  *json.Decoder
	idx  positions
}

// value records the value at path and walks into it.
func (w *jsonWalker) value(path []string, depth int) error {
	if depth > maxDepth+2 {
		return errTooDeep
	}
	w.idx[pointer(path)] = w.here()
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		for w.dec.More() {
			key, err := w.dec.Token()
			if err != nil {
				return err
			}
			k, _ := key.(string)
			if err := w.value(append(path, k), depth+1); err != nil {
				return err
			}
		}
		_, err = w.dec.Token()
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			if err := w.value(append(path, strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
		_, err = w.dec.Token()
	}
	return err
}

// here is the position of the next token: the decoder's offset past
// separators and white space.
func (w *jsonWalker) here() position {
	off := w.skip + w.dec.InputOffset()
	for off < int64(len(w.data)) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	line, col := lineColumn(w.data, off)
	return position{line, col}
}

// errTooDeep ends an index walk of a document nested past the limit.
var errTooDeep = errors.New("too deep")
