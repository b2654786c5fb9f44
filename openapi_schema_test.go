package fanoutd

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// apiDoc is api/openapi.yaml parsed, with a validator for the subset of
// JSON Schema the document uses (type, const, enum, properties, required,
// additionalProperties, items, oneOf, anyOf, minimum, maxLength, $ref). It
// is small on purpose: the contract test needs to know which schema
// properties each answer used, which a general validator does not say.
type apiDoc struct {
	root map[string]any
	// seen holds the JSON pointers of the properties that some validated
	// answer carried.
	seen map[string]bool
}

func loadAPIDoc(t *testing.T, path string) *apiDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("%s: openapi %q, want 3.1.x", path, v)
	}
	return &apiDoc{root: root, seen: map[string]bool{}}
}

// at resolves a JSON pointer ("#/paths/~1v1~1stats/get").
func (d *apiDoc) at(ptr string) (any, bool) {
	var node any = d.root
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "#/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch n := node.(type) {
		case map[string]any:
			var ok bool
			if node, ok = n[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, false
			}
			node = n[i]
		default:
			return nil, false
		}
	}
	return node, true
}

func escape(tok string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok) }

// deref follows $ref until a node without one.
func (d *apiDoc) deref(ptr string) (string, map[string]any, error) {
	for range 16 {
		n, ok := d.at(ptr)
		if !ok {
			return ptr, nil, fmt.Errorf("no node at %s", ptr)
		}
		m, ok := n.(map[string]any)
		if !ok {
			return ptr, nil, fmt.Errorf("%s is not an object", ptr)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return ptr, m, nil
		}
		ptr = ref
	}
	return ptr, nil, fmt.Errorf("$ref loop at %s", ptr)
}

// validate checks v (decoded with UseNumber) against the schema at ptr and
// returns the problems; the properties it used are added to seen only when
// there are none.
func (d *apiDoc) validate(ptr string, v any) []string {
	used := map[string]bool{}
	problems := d.check(ptr, v, "$", used)
	if len(problems) == 0 {
		for k := range used {
			d.seen[k] = true
		}
	}
	return problems
}

func (d *apiDoc) check(ptr string, v any, at string, used map[string]bool) []string {
	ptr, s, err := d.deref(ptr)
	if err != nil {
		return []string{err.Error()}
	}
	if p := d.checkType(s, v, at); p != nil {
		return p
	}
	var out []string
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		out = append(out, fmt.Sprintf("%s: %v, want %v", at, v, c))
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		out = append(out, fmt.Sprintf("%s: %v not in %v", at, v, e))
	}
	out = append(out, d.checkNumber(s, v, at)...)
	if ml, ok := s["maxLength"].(int); ok {
		if str, isStr := v.(string); isStr && len([]rune(str)) > ml {
			out = append(out, fmt.Sprintf("%s: longer than %d", at, ml))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out = append(out, d.checkObject(ptr, s, x, at, used)...)
	case []any:
		if _, ok := s["items"]; ok {
			for i, item := range x {
				out = append(out, d.check(ptr+"/items", item, fmt.Sprintf("%s[%d]", at, i), used)...)
			}
		}
	}
	out = append(out, d.checkOf(ptr, s, v, at, used)...)
	return out
}

func (d *apiDoc) checkType(s map[string]any, v any, at string) []string {
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, fmt.Sprint(x))
		}
	default:
		return nil
	}
	got := jsonType(v)
	for _, t := range types {
		if t == got || (t == "number" && got == "integer") {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: %s, want %v", at, got, types)}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && !strings.ContainsAny(string(x), ".eE") {
			return "integer" // beyond int64: a uint64 counter
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func (d *apiDoc) checkNumber(s map[string]any, v any, at string) []string {
	n, ok := v.(json.Number)
	min, hasMin := s["minimum"].(int)
	if !ok || !hasMin {
		return nil
	}
	if f, err := n.Float64(); err == nil && f < float64(min) {
		return []string{fmt.Sprintf("%s: %s below minimum %d", at, n, min)}
	}
	return nil
}

func (d *apiDoc) checkObject(ptr string, s map[string]any, x map[string]any, at string, used map[string]bool) []string {
	var out []string
	props, _ := s["properties"].(map[string]any)
	for _, r := range asList(s["required"]) {
		if _, ok := x[r]; !ok {
			out = append(out, fmt.Sprintf("%s: required %q missing", at, r))
		}
	}
	for k, val := range x {
		if _, ok := props[k]; ok {
			used[ptr+"/properties/"+escape(k)] = true
			out = append(out, d.check(ptr+"/properties/"+escape(k), val, at+"."+k, used)...)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				out = append(out, fmt.Sprintf("%s: field %q is not in the document", at, k))
			}
		case map[string]any:
			out = append(out, d.check(ptr+"/additionalProperties", val, at+"."+k, used)...)
		}
	}
	return out
}

// checkOf applies oneOf (exactly one branch) and anyOf (at least one).
func (d *apiDoc) checkOf(ptr string, s map[string]any, v any, at string, used map[string]bool) []string {
	var out []string
	for _, kw := range []string{"oneOf", "anyOf"} {
		branches, ok := s[kw].([]any)
		if !ok {
			continue
		}
		var matched int
		var why []string
		for i := range branches {
			u := map[string]bool{}
			p := d.check(fmt.Sprintf("%s/%s/%d", ptr, kw, i), v, at, u)
			if len(p) == 0 {
				matched++
				for k := range u {
					used[k] = true
				}
			} else {
				why = append(why, strings.Join(p, "; "))
			}
		}
		if matched == 0 || (kw == "oneOf" && matched > 1) {
			out = append(out, fmt.Sprintf("%s: %d branches of %s match (%s)", at, matched, kw, strings.Join(why, " | ")))
		}
	}
	return out
}

func asList(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// properties lists the JSON pointers of every property reachable from the
// schema at ptr, following $ref, items, oneOf and anyOf: what answers may
// carry.
func (d *apiDoc) properties(ptr string, into map[string]bool, visiting map[string]bool) {
	ptr, s, err := d.deref(ptr)
	if err != nil || visiting[ptr] {
		return
	}
	visiting[ptr] = true
	defer delete(visiting, ptr)
	if props, ok := s["properties"].(map[string]any); ok {
		for k := range props {
			p := ptr + "/properties/" + escape(k)
			into[p] = true
			d.properties(p, into, visiting)
		}
	}
	if _, ok := s["items"]; ok {
		d.properties(ptr+"/items", into, visiting)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok && ap != nil {
		d.properties(ptr+"/additionalProperties", into, visiting)
	}
	for _, kw := range []string{"oneOf", "anyOf"} {
		if l, ok := s[kw].([]any); ok {
			for i := range l {
				d.properties(fmt.Sprintf("%s/%s/%d", ptr, kw, i), into, visiting)
			}
		}
	}
}
