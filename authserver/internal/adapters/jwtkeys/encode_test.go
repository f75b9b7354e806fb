package jwtkeys

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
)

func TestAppendClaimsMatchesEncodingJSON(t *testing.T) {
	now := time.Unix(1795441508, 0)
	base := domain.AccessToken{ID: "jti", Issuer: "https://as.example.com", Subject: "user-1", Audience: []string{"rs"},
		ClientID: "c", Scope: domain.NewScope("a", "b"), IssuedAt: now, ExpiresAt: now.Add(time.Minute), GrantID: "g"}
	cases := map[string]func(t *domain.AccessToken){
		"as is":           func(*domain.AccessToken) {},
		"two audiences":   func(t *domain.AccessToken) { t.Audience = []string{"a", "b"} },
		"no audience":     func(t *domain.AccessToken) { t.Audience = nil },
		"no scope":        func(t *domain.AccessToken) { t.Scope = nil },
		"no grant":        func(t *domain.AccessToken) { t.GrantID = "" },
		"quote and slash": func(t *domain.AccessToken) { t.Subject = `a"b\c` },
		"control chars":   func(t *domain.AccessToken) { t.Subject = "a\nb\tc\x01" },
		"non-ASCII":       func(t *domain.AccessToken) { t.Subject = "zoë 東京" },
		"invalid UTF-8":   func(t *domain.AccessToken) { t.ClientID = "a\xffb" },
		"HTML-sensitive":  func(t *domain.AccessToken) { t.Issuer = "https://x/?a=<b>&c" },
		"odd scope":       func(t *domain.AccessToken) { t.Scope = domain.Scope{`we"ird`} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			tok := base
			mutate(&tok)
			got := appendClaims(nil, tok)
			want, err := json.Marshal(&claims{Iss: tok.Issuer, Sub: tok.Subject, Aud: audience(tok.Audience),
				Exp: tok.ExpiresAt.Unix(), Iat: tok.IssuedAt.Unix(), Jti: tok.ID, ClientID: tok.ClientID,
				Scope: tok.Scope.String(), Gid: tok.GrantID})
			require.NoError(t, err)
			var g, w map[string]any
			require.NoError(t, json.Unmarshal(got, &g), string(got))
			require.NoError(t, json.Unmarshal(want, &w))
			if len(tok.Audience) == 0 {
				// encoding/json writes a nil audience as null, the appender
				// as []: both mean none.
				assert.Equal(t, []any{}, g["aud"])
				delete(g, "aud")
				delete(w, "aud")
			}
			assert.Equal(t, w, g)
		})
	}
}

func TestHeaderSegment(t *testing.T) {
	raw, err := base64.RawURLEncoding.DecodeString(headerSegment("ES256", "kid-1"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"alg":"ES256","kid":"kid-1","typ":"at+jwt"}`, string(raw))
}
