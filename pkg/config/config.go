// Package config loads a service's configuration in three layers: the
// service's built-in defaults, then the file for the chosen environment, then
// environment variables. The merged document is validated against the
// service's JSON Schema before it is decoded, so a bad value stops the service
// at start with a message naming the field and where the value came from.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/oauth2ref/pkg/schema"
)

// Environments are the names a config file may be picked by.
var Environments = []string{"development", "test", "production"}

// Source says where to read a service's configuration from.
type Source struct {
	// Service names the file: <Dir>/<Service>.<Env>.json.
	Service string
	// Env is the environment name; "" means development.
	Env string
	// Dir holds the files. If it does not exist and DirRequired is false,
	// the file layer is skipped, so a service starts with no config at all.
	Dir         string
	DirRequired bool
	// EnvPrefix is prepended to every variable name: the field http.addr is
	// read from <EnvPrefix>_HTTP_ADDR.
	EnvPrefix string
	// Getenv reads the environment; it is passed in so that tests need no
	// process environment.
	Getenv func(string) string
	// Schema validates the merged document.
	Schema *schema.Schema
}

// Load fills dst, which must already hold the defaults, from src. It returns
// the path of the file it read, or "" if none.
func Load(src Source, dst any) (string, error) {
	env := src.Env
	if env == "" {
		env = "development"
	}
	if !contains(Environments, env) {
		return "", fmt.Errorf("config: unknown environment %q (want one of %s)", env, strings.Join(Environments, ", "))
	}

	doc, err := toDoc(dst)
	if err != nil {
		return "", fmt.Errorf("config: defaults: %w", err)
	}
	origin := map[string]string{}

	file := ""
	if src.Dir != "" {
		path := filepath.Join(src.Dir, src.Service+"."+env+".json")
		raw, err := os.ReadFile(path) //nolint:gosec // G304: the operator's -config-dir and -env name the file
		switch {
		case err == nil:
			var fileDoc map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&fileDoc); err != nil {
				return "", fmt.Errorf("config: %s: invalid JSON: %w", path, err)
			}
			merge(doc, fileDoc, "", origin, path)
			file = path
		case errors.Is(err, fs.ErrNotExist):
			if _, dirErr := os.Stat(src.Dir); dirErr == nil || src.DirRequired {
				// A config directory without this environment's file is a
				// mistake worth stopping for; so is a missing required dir.
				return "", fmt.Errorf("config: %s: no such file", path)
			}
		default:
			return "", fmt.Errorf("config: %w", err)
		}
	}

	if src.Getenv != nil {
		applyEnv(doc, "", strings.ToUpper(src.EnvPrefix), src.Getenv, origin)
	}

	if src.Schema != nil {
		if err := src.Schema.Validate(doc); err != nil {
			return "", describe(err, origin)
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return file, nil
}

// toDoc turns the defaults struct into the generic document the layers merge
// into; its keys are the JSON names of every field.
func toDoc(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	err = dec.Decode(&doc)
	return doc, err
}

// merge copies src over dst, object by object, recording where each value
// came from. Arrays and scalars replace; objects merge.
func merge(dst, src map[string]any, prefix string, origin map[string]string, from string) {
	for k, v := range src {
		path := prefix + "/" + k
		if sub, ok := v.(map[string]any); ok {
			if cur, ok := dst[k].(map[string]any); ok {
				merge(cur, sub, path, origin, from)
				continue
			}
		}
		dst[k] = v
		origin[path] = from
	}
}

// applyEnv overrides every leaf of doc that has a variable set. The variable's
// text is read as the type of the value it replaces; when it does not parse,
// the text is kept so that schema validation reports the field.
func applyEnv(doc map[string]any, prefix, envPrefix string, getenv func(string) string, origin map[string]string) {
	for k, v := range doc {
		path := prefix + "/" + k
		name := envName(envPrefix, path)
		if sub, ok := v.(map[string]any); ok {
			if text := strings.TrimSpace(getenv(name)); text != "" && (strings.HasPrefix(text, "{") || len(sub) == 0) {
				// A whole object: JSON, or for a map-like field with no
				// fixed keys the shorthand "k1=v1,k2=v2".
				doc[k] = parseObject(text)
				origin[path] = name
				continue
			}
			applyEnv(sub, path, envPrefix, getenv, origin)
			continue
		}
		text := getenv(name)
		if text == "" {
			continue
		}
		doc[k] = parseAs(v, text)
		origin[path] = name
	}
}

func envName(prefix, path string) string {
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_"))
	if prefix == "" {
		return name
	}
	return prefix + "_" + name
}

func parseAs(like any, text string) any {
	switch like.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(text, 64); err == nil {
			return json.Number(text)
		}
	case bool:
		if b, err := strconv.ParseBool(text); err == nil {
			return b
		}
	case []any, nil:
		t := strings.TrimSpace(text)
		if strings.HasPrefix(t, "[") {
			return parseJSON(t)
		}
		if _, isList := like.([]any); isList {
			var out []any
			for _, part := range strings.Split(t, ",") {
				if p := strings.TrimSpace(part); p != "" {
					out = append(out, p)
				}
			}
			return out
		}
	}
	return text
}

func parseObject(text string) any {
	if strings.HasPrefix(text, "{") {
		return parseJSON(text)
	}
	obj := map[string]any{}
	for _, pair := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return text // not the shorthand: let the schema report it
		}
		obj[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return obj
}

func parseJSON(text string) any {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return text
	}
	return v
}

// describe names each bad field with the layer its value came from.
func describe(err error, origin map[string]string) error {
	var se *schema.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("config: %w", err)
	}
	msgs := make([]string, 0, len(se.Fields))
	for _, f := range se.Fields {
		field := strings.ReplaceAll(strings.TrimPrefix(f.Field, "/"), "/", ".")
		if field == "" {
			field = "(top level)"
		}
		from := originOf(f.Field, origin)
		msgs = append(msgs, fmt.Sprintf("%s (from %s): %s", field, from, f.Message))
	}
	sort.Strings(msgs)
	return fmt.Errorf("config: invalid: %s", strings.Join(msgs, "; "))
}

func originOf(ptr string, origin map[string]string) string {
	for p := ptr; p != ""; p = p[:strings.LastIndex(p, "/")] {
		if o, ok := origin[p]; ok {
			return o
		}
	}
	return "defaults"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
