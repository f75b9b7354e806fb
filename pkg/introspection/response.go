// Package introspection holds the RFC 7662 token introspection response, as
// the authorization server writes it and resource servers read it, and the
// client resource servers call it with.
package introspection

import (
	"encoding/json"
	"strings"
)

// Response is an RFC 7662 §2.2 introspection response. An inactive token is
// answered with Active false and nothing else (§2.2: no further information
// about an inactive token may be given away).
type Response struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       Audience `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
}

// HasScope reports whether the token's space-separated scope includes s.
func (r Response) HasScope(s string) bool {
	for _, have := range strings.Fields(r.Scope) {
		if have == s {
			return true
		}
	}
	return false
}

// Audience is the "aud" member: RFC 7662 (via RFC 7519) allows one string or
// an array of strings. It is written as a string when there is one value.
type Audience []string

// Contains reports whether aud names s.
func (a Audience) Contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// MarshalJSON writes one audience as a string and several as an array, the two
// forms RFC 7519 §4.1.3 allows for "aud".
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads "aud" as either a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}
