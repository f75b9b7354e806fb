package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/pkg/introspection"
)

func TestAppendIntrospection(t *testing.T) {
	for name, r := range map[string]introspection.Response{
		"inactive":      {},
		"inactive leak": {Scope: "never shown"},
		"access token": {Active: true, Scope: "a b", ClientID: "c", TokenType: "Bearer", Exp: 2, Iat: 1,
			Sub: "u", Aud: introspection.Audience{"rs"}, Iss: "https://as", Jti: "j"},
		"two audiences": {Active: true, Aud: introspection.Audience{"a", "b"}, Sub: `we"ird`},
		"refresh token": {Active: true, Scope: "a", ClientID: "c", Exp: 5, Iat: 4, Sub: "zoë"},
		"every field":   {Active: true, Scope: "s", ClientID: "c", Username: "n", TokenType: "Bearer", Exp: 3, Iat: 2, Nbf: 1, Sub: "u", Aud: introspection.Audience{"x"}, Iss: "i", Jti: "j"},
	} {
		t.Run(name, func(t *testing.T) {
			want, _ := json.Marshal(r)
			if !r.Active {
				want = []byte(`{"active":false}`)
			}
			assert.Equal(t, string(want)+"\n", string(appendIntrospection(nil, r)))
		})
	}
}
