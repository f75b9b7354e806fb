package domain

import (
	"slices"
	"strings"
)

// Scope is a set of scope tokens, kept sorted and without duplicates so that
// two scopes with the same tokens compare and print the same.
type Scope []string

// ParseScope reads a space-delimited scope (RFC 6749 §3.3). Each token is
// 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII without space, '"' or '\'.
// An empty string is an empty scope.
func ParseScope(s string) (Scope, error) {
	if s == "" {
		return nil, nil
	}
	var out Scope
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			return nil, Errorf(InvalidScope, "scope tokens are separated by single spaces")
		}
		if !validScopeToken(tok) {
			return nil, Errorf(InvalidScope, "scope %q has characters RFC 6749 §3.3 does not allow", tok)
		}
		out = append(out, tok)
	}
	return NewScope(out...), nil
}

// NewScope returns the set of the given tokens.
func NewScope(tokens ...string) Scope {
	if len(tokens) == 0 {
		return nil
	}
	s := slices.Clone(tokens)
	slices.Sort(s)
	return Scope(slices.Compact(s))
}

func validScopeToken(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// String returns the space-delimited form.
func (s Scope) String() string { return strings.Join(s, " ") }

// Has reports whether the set holds tok.
func (s Scope) Has(tok string) bool {
	_, found := slices.BinarySearch(s, tok)
	return found
}

// Covers reports whether every token of other is in s.
func (s Scope) Covers(other Scope) bool {
	for _, tok := range other {
		if !s.Has(tok) {
			return false
		}
	}
	return true
}

// Missing returns the tokens of other that are not in s.
func (s Scope) Missing(other Scope) Scope {
	var out Scope
	for _, tok := range other {
		if !s.Has(tok) {
			out = append(out, tok)
		}
	}
	return out
}

// ScopeInfo describes a scope to people (on the consent page) and to
// clients (in the metadata document's scopes_supported).
type ScopeInfo struct {
	Name        string
	Description string
}
