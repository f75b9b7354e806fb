// Package schema validates external input (configuration, fixtures, JSON
// request bodies) against JSON Schemas compiled once at start.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Schema is a compiled JSON Schema. It is safe for concurrent use.
type Schema struct {
	s *jsonschema.Schema
}

// Compile compiles the schema in src; name only appears in error messages.
func Compile(name string, src []byte) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	url := "mem://" + name
	if err := c.AddResource(url, bytes.NewReader(src)); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &Schema{s: s}, nil
}

// FieldError is one reason a document failed validation. Field is a JSON
// pointer to the offending value ("/http/port"); "" is the whole document.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Value   any    `json:"value,omitempty"`
}

// Error lists every field that failed.
type Error struct {
	Fields []FieldError
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		field := f.Field
		if field == "" {
			field = "(document)"
		}
		parts[i] = field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Validate checks doc, a value as produced by decoding JSON into an `any`
// (maps, slices, strings, json.Number or float64, bools, nil).
func (s *Schema) Validate(doc any) error {
	err := s.s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return &Error{Fields: leaves(ve, doc)}
}

// leaves flattens the error tree to its most specific causes, which are the
// ones that name a field and say what is wrong with it.
func leaves(ve *jsonschema.ValidationError, doc any) []FieldError {
	var out []FieldError
	seen := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			key := e.InstanceLocation + "\x00" + e.Message
			if !seen[key] {
				seen[key] = true
				out = append(out, FieldError{Field: e.InstanceLocation, Message: e.Message, Value: lookup(doc, e.InstanceLocation)})
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// lookup returns the scalar at the JSON pointer ptr in doc, or nil. Objects
// and arrays are left out of error reports: they can be large.
func lookup(doc any, ptr string) any {
	if ptr == "" {
		return nil
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	switch cur.(type) {
	case map[string]any, []any:
		return nil
	}
	return cur
}

// DecodeJSON reads one JSON document from r, validates it, then decodes it
// into dst. Syntax errors and trailing data are reported as a FieldError on
// the whole document so callers can answer every bad body the same way.
func (s *Schema) DecodeJSON(r io.Reader, dst any) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.DecodeBytes(raw, dst)
}

// DecodeBytes is DecodeJSON for a document already in memory.
func (s *Schema) DecodeBytes(raw []byte, dst any) error {
	doc, err := parse(raw)
	if err != nil {
		return &Error{Fields: []FieldError{{Message: err.Error()}}}
	}
	if err := s.Validate(doc); err != nil {
		return err
	}
	if dst == nil {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &Error{Fields: []FieldError{{Message: err.Error()}}}
	}
	return nil
}

// parse decodes exactly one JSON value, keeping numbers exact.
func parse(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected data after the document")
	}
	return doc, nil
}
