package featureflags_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/twmb/murmur3"
)

var fixedNow = time.Unix(1764115200, 0)

// refMurmur3 is an independent MurmurHash3 x86 32-bit, written from the
// reference algorithm (not from the library under use).
func refMurmur3(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data) / 4
	for i := range n {
		k := binary.LittleEndian.Uint32(data[4*i:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	tail := data[4*n:]
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

type refEntry struct {
	variant string
	weight  uint64
}

// refFractional is the spec's bucketing, independently written.
func refFractional(key string, entries []refEntry) string {
	var total uint64
	for _, e := range entries {
		total += e.weight
	}
	bucket := uint64(refMurmur3([]byte(key), 0)) * total >> 32
	var sum uint64
	for _, e := range entries {
		sum += e.weight
		if bucket < sum {
			return e.variant
		}
	}
	return ""
}

func TestRefMurmur3Vectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"hello", 0, 0x248bfa47},
		{"Hello, world!", 0, 0xc0363e43},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723},
	} {
		if got := refMurmur3([]byte(tc.in), tc.seed); got != tc.want {
			t.Errorf("murmur3(%q, %d) = %#x, want %#x", tc.in, tc.seed, got, tc.want)
		}
	}
}

func TestMurmur3(t *testing.T) {
	for in, want := range map[string]uint32{
		"":              0,
		"hello":         0x248bfa47,
		"Hello, world!": 0xc0363e43,
		"The quick brown fox jumps over the lazy dog": 0x2e4ff723,
	} {
		if got := featureflags.Murmur3(in); got != want {
			t.Errorf("Murmur3(%q) = %#x, want %#x", in, got, want)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n%67)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		want := refMurmur3(b, 0)
		if got := featureflags.Murmur3(string(b)); got != want {
			t.Fatalf("Murmur3(%x) = %#x, reference %#x", b, got, want)
		}
		h := murmur3.New32() // the library's streaming path, fed in two writes
		h.Write(b[:len(b)/2])
		h.Write(b[len(b)/2:])
		if lib := h.Sum32(); lib != want {
			t.Fatalf("twmb/murmur3 streaming(%x) = %#x, reference %#x", b, lib, want)
		}
	}
}

func evalRule(t testing.TB, rule, flagKey string, ctx map[string]any) any {
	t.Helper()
	out, err := featureflags.EvalRule(rule, flagKey, ctx, fixedNow)
	if err != nil {
		t.Fatalf("EvalRule(%s): %v", rule, err)
	}
	return out
}

func TestStartsEndsWith(t *testing.T) {
	for _, tc := range []struct {
		op   string
		args any
		want any
	}{
		{"starts_with", []any{"hello", "he"}, true},
		{"starts_with", []any{"hello", "lo"}, false},
		{"starts_with", []any{"hello", ""}, true},
		{"ends_with", []any{"web1.prod.example.com", ".prod.example.com"}, true},
		{"ends_with", []any{"web1.dev.example.com", ".prod.example.com"}, false},
		{"ends_with", []any{"", ""}, true},
		{"starts_with", []any{5.0, "a"}, nil},
		{"starts_with", []any{"a", true}, nil},
		{"ends_with", []any{nil, "a"}, nil},
		{"ends_with", []any{"a"}, nil},
		{"ends_with", []any{"a", "b", "c"}, nil},
		{"starts_with", "abc", nil},
		{"starts_with", nil, nil},
		{"ends_with", map[string]any{"a": "b"}, nil},
	} {
		t.Run(fmt.Sprintf("%s%v", tc.op, tc.args), func(t *testing.T) {
			if got := featureflags.CallOperator(tc.op, tc.args, nil); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStartsEndsWithInRules(t *testing.T) {
	ctx := map[string]any{"host": "web1.prod.example.com", "port": 22}
	for rule, want := range map[string]any{
		`{"ends_with": [{"var": "host"}, ".prod.example.com"]}`:                       true,
		`{"starts_with": [{"var": "host"}, "db"]}`:                                    false,
		`{"starts_with": [{"var": "port"}, "2"]}`:                                     nil,
		`{"starts_with": [{"var": "missing"}, "2"]}`:                                  nil,
		`{"if": [{"ends_with": [{"var": "host"}, ".example.com"]}, "on", "off"]}`:     "on",
		`{"if": [{"starts_with": [{"var": "port"}, "x"]}, "on", "off"]}`:              nil, // an operation error makes the whole rule null
		`{"!": {"starts_with": [{"var": "host"}, "web"]}}`:                            false,
		`{"and": [{"starts_with": [{"var": "host"}, "web"]}, {"==": [1, 1]}]}`:        true,
		`{"ends_with": [{"cat": [{"var": "host"}, "!"]}, "com!"]}`:                    true,
		`{"in": [{"var": "targetingKey"}, ["a", "b"]]}`:                               false,
		`{"var": "$flagd.flagKey"}`:                                                   "my-flag",
		`{"var": "$flagd.timestamp"}`:                                                 float64(fixedNow.Unix()),
		`{"<": [{"var": "$flagd.timestamp"}, 1800000000]}`:                            true,
		`{"var": "labels.env"}`:                                                       "prod",
		`{"==": [{"var": "port"}, 22]}`:                                               true,
		`{"if": [{"in": [{"var": "targetingKey"}, ["srv-1", "srv-2"]]}, "on", null]}`: nil,
	} {
		c := map[string]any{"labels": map[string]any{"env": "prod"}, "targetingKey": "srv-9"}
		for k, v := range ctx {
			c[k] = v
		}
		if got := evalRule(t, rule, "my-flag", c); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", rule, got, want)
		}
	}
}

func TestSemVer(t *testing.T) {
	for _, tc := range []struct {
		a, op, b string
		want     any
	}{
		{"1.2.3", "=", "1.2.3", true},
		{"v1.2.3", "=", "1.2.3", true},
		{"1.2.3", "=", "v1.2.4", false},
		{"1.2.3", "!=", "1.2.4", true},
		{"1.2.3", "!=", "1.2.3", false},
		{"1.2.3", "<", "1.10.0", true},
		{"1.10.0", "<", "1.9.0", false},
		{"1.2.3", "<=", "1.2.3", true},
		{"2.0.0", ">", "1.99.99", true},
		{"2.0.0", ">=", "2.0.0", true},
		{"1.9.9", ">=", "2.0.0", false},
		{"1.0.0-alpha", "<", "1.0.0", true},
		{"1.0.0+build.5", "=", "1.0.0+other", true},
		{"1.2", "=", "1.2.0", true},
		{"v1", "<", "v1.0.1", true},
		{"1.2.3", "^", "1.9.0", true},
		{"1.2.3", "^", "2.0.0", false},
		{"1.2.3", "~", "1.2.9", true},
		{"1.2.3", "~", "1.3.0", false},
		{"1.2.3", "~", "2.2.3", false},
		{"99999999999999999999.0.0", ">", "9999999999999999999.0.0", true},
		{"1.2.3", "<>", "1.2.3", nil},
		{"1.2.x", "=", "1.2.3", nil},
		{"01.2.3", "=", "1.2.3", nil},
		{"1.2.3-", "=", "1.2.3", nil},
		{"1.2.3-01", "=", "1.2.3", nil},
		{"1.2.3-a..b", "=", "1.2.3", nil},
		{"1.2.3+", "=", "1.2.3", nil},
		{"1.2-beta", "=", "1.2.0", nil},
		{"1.2.3.4", "=", "1.2.3", nil},
		{"", "=", "1.0.0", nil},
		{"v", "=", "1.0.0", nil},
		{"1.2.3-ä", "=", "1.2.3", nil},
	} {
		t.Run(tc.a+tc.op+tc.b, func(t *testing.T) {
			if got := featureflags.CallOperator("sem_ver", []any{tc.a, tc.op, tc.b}, nil); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSemVerPrecedenceChain(t *testing.T) {
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"}
	for i := range chain {
		for j := range chain {
			want := i < j
			if got := featureflags.CallOperator("sem_ver", []any{chain[i], "<", chain[j]}, nil); got != want {
				t.Errorf("%s < %s = %v, want %v", chain[i], chain[j], got, want)
			}
		}
	}
}

func TestSemVerInvalidShapes(t *testing.T) {
	for _, args := range []any{nil, "1.0.0", []any{"1.0.0", "="}, []any{true, "=", "1.0.0"},
		[]any{"1.0.0", 1.0, "1.0.0"}, []any{"1.0.0", "=", "1.0.0", "x"}, []any{-1.0, "=", "1.0.0"}} {
		if got := featureflags.CallOperator("sem_ver", args, nil); got != nil {
			t.Errorf("sem_ver(%v) = %v, want nil", args, got)
		}
	}
	// Numbers are versions, as flagd coerces them: 3 is v3.0.0, 1.1 is v1.1.0.
	for _, tc := range []struct {
		version any
		want    any
	}{{3, true}, {1.1, false}, {int64(1), false}, {1.25, true}, {"V1.2.0", true}, {"vv1.2.0", nil}} {
		got := evalRule(t, `{"sem_ver": [{"var": "version"}, ">=", "1.2.0"]}`, "f", map[string]any{"version": tc.version})
		if got != tc.want {
			t.Errorf("sem_ver(%v >= 1.2.0) = %v, want %v", tc.version, got, tc.want)
		}
	}
	if got := evalRule(t, `{"sem_ver": [{"var": "version"}, ">=", "1.2.0"]}`, "f", map[string]any{"version": "v1.10.0"}); got != true {
		t.Errorf("sem_ver = %v, want true", got)
	}
}

func serverKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("server-%04d", i)
	}
	return keys
}

func fractionalRule(onWeight int) string {
	return fmt.Sprintf(`{"fractional": [["on", %d], ["off", %d]]}`, onWeight, 100-onWeight)
}

func TestFractionalMatchesReference(t *testing.T) {
	entries := []refEntry{{"on", 30}, {"off", 70}}
	for _, key := range serverKeys(200) {
		got := evalRule(t, fractionalRule(30), "use-new-pool", map[string]any{"targetingKey": key})
		if want := refFractional("use-new-pool"+key, entries); got != want {
			t.Fatalf("key %s: got %v, want %v", key, got, want)
		}
	}
}

func TestFractionalKnownAssignments(t *testing.T) {
	// Pinned from the reference implementation: hash, bucket of 100 and variant.
	for _, tc := range []struct {
		key, want string
	}{
		{"server-0000", refFractional("use-new-poolserver-0000", []refEntry{{"on", 50}, {"off", 50}})},
		{"server-0001", refFractional("use-new-poolserver-0001", []refEntry{{"on", 50}, {"off", 50}})},
		{"hello", refFractional("use-new-poolhello", []refEntry{{"on", 50}, {"off", 50}})},
	} {
		got := evalRule(t, fractionalRule(50), "use-new-pool", map[string]any{"targetingKey": tc.key})
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.key, got, tc.want)
		}
	}
	// Explicit bucketing string "hello": murmur3 = 0x248bfa47; bucket of 100 =
	// 0x248bfa47*100>>32 = 14, so [a,10],[b,10],[c,80] picks "b".
	if b := uint64(0x248bfa47) * 100 >> 32; b != 14 {
		t.Fatalf("bucket = %d", b)
	}
	got := evalRule(t, `{"fractional": ["hello", ["a", 10], ["b", 10], ["c", 80]]}`, "f", nil)
	if got != "b" {
		t.Errorf("fractional(hello) = %v, want b", got)
	}
}

func TestFractionalDistribution(t *testing.T) {
	for _, pct := range []int{1, 10, 30, 50, 90} {
		on := 0
		for _, key := range serverKeys(1000) {
			if evalRule(t, fractionalRule(pct), "use-new-pool", map[string]any{"targetingKey": key}) == "on" {
				on++
			}
		}
		want := pct * 10
		if tol := 40; on < want-tol || on > want+tol {
			t.Errorf("%d%%: %d of 1000 keys on, want %d±%d", pct, on, want, tol)
		}
	}
}

func TestFractionalStickyAndMonotonic(t *testing.T) {
	keys := serverKeys(1000)
	prev := map[string]bool{}
	for pct := 0; pct <= 100; pct += 5 {
		cur := map[string]bool{}
		for _, key := range keys {
			ctx := map[string]any{"targetingKey": key}
			a := evalRule(t, fractionalRule(pct), "use-new-pool", ctx)
			if b := evalRule(t, fractionalRule(pct), "use-new-pool", ctx); a != b {
				t.Fatalf("not sticky: %s gave %v then %v", key, a, b)
			}
			if a == "on" {
				cur[key] = true
			}
		}
		for key := range prev {
			if !cur[key] {
				t.Fatalf("raising to %d%% removed %s", pct, key)
			}
		}
		prev = cur
	}
	if len(prev) != len(keys) {
		t.Fatalf("100%%: %d keys on", len(prev))
	}
}

func TestFractionalForms(t *testing.T) {
	ctx := map[string]any{"targetingKey": "srv-42", "email": "ops@example.com"}
	def := refFractional("fsrv-42", []refEntry{{"a", 1}, {"b", 3}})
	for rule, want := range map[string]any{
		`{"fractional": [["a"], ["b", 3]]}`: def,
		`{"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}, ["a"], ["b", 3]]}`: def,
		`{"fractional": [{"var": "missing"}, ["a"], ["b", 3]]}`:                                            def,
		`{"fractional": [{"var": "email"}, ["a", 50], ["b", 50]]}`:                                         refFractional("ops@example.com", []refEntry{{"a", 50}, {"b", 50}}),
		`{"fractional": [["only"]]}`:                                                                       "only",
		`{"fractional": [["zero", 0], ["all", 5]]}`:                                                        "all",
		`{"if": [{"==": [{"fractional": [["x", 1], ["y", 0]]}, "x"]}, "on", "off"]}`:                       "on",
		`{"if": [{"fractional": [[true, 0], [false, 1]]}, "on", "off"]}`:                                   "off",
	} {
		if got := evalRule(t, rule, "f", ctx); got != want {
			t.Errorf("%s = %v, want %v", rule, got, want)
		}
	}
	// No targeting key and no bucketing expression: null.
	if got := evalRule(t, `{"fractional": [["a"], ["b"]]}`, "f", map[string]any{"host": "x"}); got != nil {
		t.Errorf("without targeting key = %v, want nil", got)
	}
}

func TestFractionalInvalidInputs(t *testing.T) {
	data := map[string]any{"targetingKey": "k", "$flagd": map[string]any{"flagKey": "f"}}
	for _, args := range []any{
		nil, "x", 1.0, []any{}, []any{"bucket"},
		[]any{[]any{"a", -1.0}},
		[]any{[]any{"a", 1.5}},
		[]any{[]any{"a", "50"}},
		[]any{[]any{"a", 0.0}},
		[]any{[]any{"a", float64(math.MaxInt32)}, []any{"b", 1.0}},
		[]any{[]any{"a", math.Inf(1)}},
		[]any{[]any{"a", math.NaN()}},
		[]any{[]any{"a", 1.0, 2.0}},
		[]any{[]any{}},
		[]any{[]any{map[string]any{}, 1.0}, []any{"b", 1.0}},
		[]any{3.0, []any{"a", 1.0}},
		[]any{map[string]any{}, []any{"a", 1.0}},
		[]any{[]any{"a", 1.0}, "late-bucket"},
	} {
		if got := featureflags.CallOperator("fractional", args, data); got != nil {
			t.Errorf("fractional(%v) = %v, want nil", args, got)
		}
	}
	for _, d := range []any{nil, "x", map[string]any{}, map[string]any{"targetingKey": 5}} {
		if got := featureflags.CallOperator("fractional", []any{[]any{"a", 1.0}, []any{"b", 1.0}}, d); got != nil {
			t.Errorf("fractional with data %v = %v, want nil", d, got)
		}
	}
	if got := featureflags.CallOperator("fractional", []any{[]any{"a", float64(math.MaxInt32)}}, data); got != "a" {
		t.Errorf("max total weight = %v, want a", got)
	}
}
