package app

import (
	"cmp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sources maps config keys ("pool.max_connections") to where their values
// came from; later loads overwrite earlier ones, as koanf's merge does.
type sources map[string]Source

// addFile records the line of every key of a YAML or JSON document (JSON
// parses as YAML with the same lines). A document that does not parse
// records nothing: its parse error is reported on its own.
func (s sources) addFile(path string, data []byte) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return
	}
	s.walk(path, &doc, "", 0)
}

// maxYAMLDepth bounds the walk (aliases can nest documents deeply).
const maxYAMLDepth = 32

func (s sources) walk(path string, n *yaml.Node, prefix string, depth int) {
	if n == nil || depth > maxYAMLDepth {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			s.walk(path, c, prefix, depth+1)
		}
	case yaml.AliasNode:
		s.walk(path, n.Alias, prefix, depth+1)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: its entries belong here
				s.walk(path, v, prefix, depth+1)
				continue
			}
			key := joinKey(prefix, k.Value)
			s[key] = Source{File: path, Line: k.Line}
			s.walk(path, v, key, depth+1)
		}
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// lookup returns where key's value came from; the zero Source means the
// defaults. A field missing from a target (targets.db.host) is located at
// the target's own entry.
func (s sources) lookup(key string) Source {
	if src, ok := s[key]; ok || !strings.HasPrefix(key, "targets.") && !isIndexed(key) {
		return src
	}
	for {
		if src, ok := s[key]; ok {
			return src
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return Source{}
		}
		key = key[:i]
	}
}

// isIndexed reports whether key's last segment is a list index
// ("pool.warmup_keys.0"), located at its list.
func isIndexed(key string) bool {
	_, last := splitLast(key)
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// compare orders sources for reporting: file lines in order, then
// environment variables by name, then the defaults.
func (s Source) compare(o Source) int {
	rank := func(s Source) int {
		switch {
		case s.File != "":
			return 0
		case s.Env != "":
			return 1
		}
		return 2
	}
	if r := cmp.Compare(rank(s), rank(o)); r != 0 {
		return r
	}
	if r := cmp.Compare(s.File, o.File); r != 0 {
		return r
	}
	if r := cmp.Compare(s.Line, o.Line); r != 0 {
		return r
	}
	return cmp.Compare(s.Env, o.Env)
}
