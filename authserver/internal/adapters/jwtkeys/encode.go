package jwtkeys

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/oauth2ref/authserver/internal/adapters/jsonw"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The token endpoint signs a JWT per request. Its JOSE header is the same
// for every token of a key, so it is encoded once per key (headerSegment);
// the claims are written by appendClaims instead of reflection-based
// encoding/json. golang-jwt still does the signing and all verification.
// TestAppendClaimsMatchesEncodingJSON holds the two encodings equal.

// headerSegment is the base64url JOSE header of every token of a key.
func headerSegment(alg, kid string) string {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, TokenType})
	return base64.RawURLEncoding.EncodeToString(h)
}

// appendClaims appends the JSON of t's claims, in claims' field order.
func appendClaims(b []byte, t domain.AccessToken) []byte {
	b = append(b, `{"iss":`...)
	b = jsonw.String(b, t.Issuer)
	b = append(b, `,"sub":`...)
	b = jsonw.String(b, t.Subject)
	b = append(b, `,"aud":`...)
	if len(t.Audience) == 1 {
		b = jsonw.String(b, t.Audience[0])
	} else {
		b = append(b, '[')
		for i, a := range t.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, t.ExpiresAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, t.IssuedAt.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = jsonw.String(b, t.ID)
	b = append(b, `,"client_id":`...)
	b = jsonw.String(b, t.ClientID)
	if len(t.Scope) > 0 {
		b = append(b, `,"scope":"`...)
		for i, s := range t.Scope {
			if i > 0 {
				b = append(b, ' ')
			}
			b = jsonw.Raw(b, s)
		}
		b = append(b, '"')
	}
	if t.GrantID != "" {
		b = append(b, `,"gid":`...)
		b = jsonw.String(b, t.GrantID)
	}
	return append(b, '}')
}
