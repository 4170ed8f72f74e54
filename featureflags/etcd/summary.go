package etcd

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sshpool/sshpool/featureflags"
)

// Summarize describes a flag document in one line for a history: the two
// routing flags (static value, or the rule's operator and the default
// variant) and the number of flags. "refused" marks a document a provider
// would refuse.
//
//	kill-switch: off; use-new-pool: rule (fractional), default off; 2 flags
func Summarize(doc []byte) string {
	if featureflags.Lint("", doc).Refused() {
		return "refused: not a valid flag document"
	}
	var d struct {
		Flags map[string]struct {
			State          string         `yaml:"state"`
			Variants       map[string]any `yaml:"variants"`
			DefaultVariant *string        `yaml:"defaultVariant"`
			Targeting      any            `yaml:"targeting"`
		} `yaml:"flags"`
	}
	if yaml.Unmarshal(doc, &d) != nil {
		return "unreadable"
	}
	var parts []string
	for _, key := range []string{featureflags.FlagKillSwitch, featureflags.FlagUseNewPool} {
		f, ok := d.Flags[key]
		switch {
		case !ok:
			parts = append(parts, key+": not defined")
		case f.State == "DISABLED":
			parts = append(parts, key+": disabled")
		case f.Targeting != nil:
			parts = append(parts, fmt.Sprintf("%s: rule (%s), default %s", key, ruleOperator(f.Targeting), variantOf(f.DefaultVariant)))
		default:
			parts = append(parts, fmt.Sprintf("%s: %s", key, variantOf(f.DefaultVariant)))
		}
	}
	return fmt.Sprintf("%s; %d flags", strings.Join(parts, "; "), len(d.Flags))
}

func variantOf(v *string) string {
	if v == nil {
		return "none"
	}
	return *v
}

// ruleOperator names a rule's top-level operators ("fractional", "if").
func ruleOperator(rule any) string {
	m, ok := rule.(map[string]any)
	if !ok || len(m) == 0 {
		return "value"
	}
	ops := make([]string, 0, len(m))
	for k := range m {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return strings.Join(ops, ", ")
}
