// Package jsonw writes the few JSON documents on the hot paths (access token
// claims, introspection answers) by appending to a byte slice, where
// encoding/json's reflection costs more than the rest of the work. Strings
// that need escaping still go through encoding/json, so the output is what
// it would write.
package jsonw

import "encoding/json"

// String appends s as a JSON string.
func String(b []byte, s string) []byte {
	if !Plain(s) {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Raw appends s as the inside of a JSON string (no quotes), escaped if it
// must be.
func Raw(b []byte, s string) []byte {
	if Plain(s) {
		return append(b, s...)
	}
	q, _ := json.Marshal(s)
	return append(b, q[1:len(q)-1]...)
}

// Plain reports whether s is printable ASCII with nothing encoding/json
// would escape ('"', '\', and the HTML-sensitive '<', '>', '&'). Ids, URLs
// and scopes are.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
