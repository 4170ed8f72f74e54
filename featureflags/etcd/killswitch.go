package etcd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/sshpool/sshpool/featureflags"
)

// PlanKillSwitch prepares turning the kill-switch flag on (every call to
// the legacy pool) or off in the document in place: the flag is made
// ENABLED with a static default variant of the wanted value (added when
// the flag has none), and its targeting, if any, is removed. Everything
// else stays as written: a YAML document keeps its comments and order, a
// JSON one its key order. With no document in place, the new document
// holds the kill switch alone. Plan.Changes lists the edits; none means
// the switch is already as wanted (Plan.Unchanged).
func (p *Publisher) PlanKillSwitch(ctx context.Context, on bool, o PlanOptions) (*Plan, error) {
	base, readAt, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	doc, changes, err := setKillSwitch(base.Document, on)
	if err != nil {
		return nil, fmt.Errorf("etcd: %s at revision %d: %w", p.cfg.Key, base.Revision, err)
	}
	state := "off"
	if on {
		state = "on"
	}
	pl := &Plan{Action: "kill-switch " + state, Origin: "kill-switch " + state, Document: doc,
		Base: base, readAt: readAt, Changes: changes}
	return p.plan(ctx, pl, o)
}

// setKillSwitch returns doc with the kill switch set to on, and the edits.
func setKillSwitch(doc []byte, on bool) ([]byte, []string, error) {
	if doc == nil {
		doc = []byte("{}")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil || root.Kind != yaml.DocumentNode || root.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("the document is not a mapping: fix it with sshpool flags push")
	}
	top := root.Content[0]
	flags := mapping(top, "flags")
	ks := mapping(flags, featureflags.FlagKillSwitch)
	var changes []string
	if len(ks.Content) == 0 {
		changes = append(changes, fmt.Sprintf("%s added", featureflags.FlagKillSwitch))
	}
	variant, vchanges, err := boolVariant(mapping(ks, "variants"), on)
	if err != nil {
		return nil, nil, err
	}
	changes = append(changes, vchanges...)
	changes = append(changes, setScalar(ks, "state", "ENABLED")...)
	changes = append(changes, setScalar(ks, "defaultVariant", variant)...)
	if removeKey(ks, "targeting") {
		changes = append(changes, "targeting removed (the switch is static)")
	}
	if len(changes) == 0 {
		return doc, nil, nil
	}
	if isJSON(doc) {
		var buf bytes.Buffer
		writeJSON(&buf, top)
		var out bytes.Buffer
		if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
			return nil, nil, err
		}
		out.WriteByte('\n')
		return out.Bytes(), changes, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, nil, err
	}
	enc.Close()
	return out.Bytes(), changes, nil
}

// isJSON reports whether doc is written in JSON (starts with '{').
func isJSON(doc []byte) bool {
	b := bytes.TrimLeft(doc, " \t\r\n\ufeff")
	return len(b) > 0 && b[0] == '{'
}

// mapping returns m's value for key, a mapping node, adding an empty one
// when absent (or replacing a value that is not a mapping).
func mapping(m *yaml.Node, key string) *yaml.Node {
	if v := lookup(m, key); v != nil && v.Kind == yaml.MappingNode {
		return v
	}
	removeKey(m, key)
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, strNode(key), v)
	return v
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func removeKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

// setScalar sets m[key] to the string value and describes the change.
func setScalar(m *yaml.Node, key, value string) []string {
	old := lookup(m, key)
	if old != nil && old.Kind == yaml.ScalarNode && old.Value == value && old.ShortTag() == "!!str" {
		return nil
	}
	if old == nil {
		m.Content = append(m.Content, strNode(key), strNode(value))
		return []string{fmt.Sprintf("%s: unset → %s", key, value)}
	}
	was := old.Value
	// In place: the key keeps its position and its comments.
	old.Kind, old.Tag, old.Value, old.Style, old.Content, old.Alias = yaml.ScalarNode, "!!str", value, 0, nil, nil
	return []string{fmt.Sprintf("%s: %s → %s", key, was, value)}
}

// boolVariant returns the name of the variant whose value is want, adding
// "on" or "off" when there is none. Variants that are not booleans are an
// error: the router could not read the switch.
func boolVariant(variants *yaml.Node, want bool) (string, []string, error) {
	name := ""
	for i := 0; i+1 < len(variants.Content); i += 2 {
		v := variants.Content[i+1]
		b, err := strconv.ParseBool(v.Value)
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || err != nil {
			return "", nil, fmt.Errorf("%s has a variant %q that is not a boolean: fix the document with sshpool flags push",
				featureflags.FlagKillSwitch, variants.Content[i].Value)
		}
		if b == want && name == "" {
			name = variants.Content[i].Value
		}
	}
	if name != "" {
		return name, nil, nil
	}
	name = map[bool]string{true: "on", false: "off"}[want]
	if lookup(variants, name) != nil {
		name += "-" + strconv.FormatBool(want)
	}
	variants.Content = append(variants.Content, strNode(name),
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(want)})
	return name, []string{fmt.Sprintf("variant %s: %t added", name, want)}, nil
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// writeJSON writes n as compact JSON, keys in the node's order. The
// document came from JSON, so every scalar is a JSON value already.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			buf.Write(k)
			buf.WriteByte(':')
			writeJSON(buf, n.Content[i+1])
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSON(buf, c)
		}
		buf.WriteByte(']')
	case yaml.AliasNode:
		writeJSON(buf, n.Alias)
	default:
		switch n.ShortTag() {
		case "!!null":
			buf.WriteString("null")
		case "!!bool", "!!int", "!!float":
			buf.WriteString(n.Value)
		default:
			s, _ := json.Marshal(n.Value)
			buf.Write(s)
		}
	}
}
