package config

import (
	"encoding/json"
	"reflect"
	"sort"
)

// Changed returns the fields, as dotted paths (http.addr), whose values
// differ between two configurations of one type, sorted; nil when they are
// alike. It names fields and never shows values, which may be secrets, so
// its result can be logged: a reload says what it applied and what waits
// for a restart.
func Changed(before, after any) []string {
	a, errA := toDoc(before)
	b, errB := toDoc(after)
	if errA != nil || errB != nil {
		return []string{"(unreadable)"}
	}
	var out []string
	diff(a, b, "", &out)
	sort.Strings(out)
	return out
}

func diff(a, b map[string]any, prefix string, out *[]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		sa, okA := a[k].(map[string]any)
		sb, okB := b[k].(map[string]any)
		if okA && okB {
			diff(sa, sb, path, out)
			continue
		}
		if !reflect.DeepEqual(normal(a[k]), normal(b[k])) {
			*out = append(*out, path)
		}
	}
}

// normal makes JSON numbers comparable whatever their spelling.
func normal(v any) any {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
	}
	return v
}
