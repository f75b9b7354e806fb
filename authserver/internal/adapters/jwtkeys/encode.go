package jwtkeys

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The token endpoint signs a JWT per request. SignAccessToken writes the
// JWS signing input itself and has golang-jwt's signing method sign it:
// the JOSE header is the same for every token of a key, so it is encoded
// once per key (headerSegment), and the claims are appended to a buffer
// (appendClaims) instead of going through encoding/json's reflection.
// Verification is golang-jwt's parser alone.
//
// This is kept because it is measured to pay (issue 14's rule: at least 5%
// of the token endpoint's throughput). BenchmarkSignEncoding (encode_test.go)
// signs blocks of tokens this way and through jwt.NewWithClaims(...)
// .SignedString in turns, in process CPU time: golang-jwt alone costs 3.3
// to 5.5 µs more per token, 23 more allocations and 2 KB more garbage.
// BenchmarkTokenClientCredentials/served (authserver/bench_test.go) puts a
// token request, as cmd/authserver serves it, at 64 to 82 µs of CPU: 4 to
// 9% of it; the same request with the two paths switched in turns in one
// process cost 5.2 to 9.5% more through golang-jwt alone. README,
// Performance, has the runs. TestEncodingMatchesGolangJWT holds the two
// byte for byte equal.

// headerSegment is the base64url JOSE header of every token of a key.
func headerSegment(alg, kid string) string {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, TokenType})
	return base64.RawURLEncoding.EncodeToString(h)
}

// appendClaims appends the JSON of t's claims: what encoding/json writes
// for claims, member for member and byte for byte.
func appendClaims(b []byte, t domain.AccessToken) []byte {
	b = append(b, `{"iss":`...)
	b = appendString(b, t.Issuer)
	b = append(b, `,"sub":`...)
	b = appendString(b, t.Subject)
	b = append(b, `,"aud":`...)
	if len(t.Audience) == 1 {
		b = appendString(b, t.Audience[0])
	} else {
		b = append(b, '[')
		for i, a := range t.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, t.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, t.IssuedAt.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"client_id":`...)
	b = appendString(b, t.ClientID)
	if len(t.Scope) > 0 {
		b = append(b, `,"scope":"`...)
		for i, s := range t.Scope {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendInside(b, s)
		}
		b = append(b, '"')
	}
	if t.GrantID != "" {
		b = append(b, `,"gid":`...)
		b = appendString(b, t.GrantID)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Ids, URLs and scopes need no
// escaping and are copied; anything else goes through encoding/json, so
// that the output is its, HTML-safe escapes included.
func appendString(b []byte, s string) []byte {
	if !plain(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendInside appends s as the inside of a JSON string, without quotes.
func appendInside(b []byte, s string) []byte {
	if plain(s) {
		return append(b, s...)
	}
	q, _ := json.Marshal(s)
	return append(b, q[1:len(q)-1]...)
}

// plain reports whether s is printable ASCII with nothing encoding/json
// would escape: no '"' or '\', nor the HTML-sensitive '<', '>' and '&'.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
