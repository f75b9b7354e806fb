package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// TestIntrospectionBody: the members RFC 7662 §2.2 names, and for anything
// not active {"active":false} alone, whatever the use case knew.
func TestIntrospectionBody(t *testing.T) {
	iat := time.Unix(1000, 0)
	access := &domain.AccessToken{ID: "j", Issuer: "https://as", Subject: `we"ird <zoë>`, Audience: []string{"rs"},
		ClientID: "c", Scope: domain.NewScope("a", "b"), IssuedAt: iat, ExpiresAt: iat.Add(time.Minute), GrantID: "g"}
	refresh := &domain.RefreshToken{ClientID: "c", Scope: domain.NewScope("a"), IssuedAt: iat, ExpiresAt: iat.Add(time.Hour)}
	twoAud := *access
	twoAud.Audience = []string{"x", "y"}
	for name, c := range map[string]struct {
		in   app.Introspection
		want string
	}{
		"inactive":                {app.Introspection{}, `{"active":false}`},
		"inactive, with a token":  {app.Introspection{Access: access}, `{"active":false}`},
		"active, nothing to show": {app.Introspection{Active: true}, `{"active":false}`},
		"access token": {app.Introspection{Active: true, Access: access},
			`{"active":true,"scope":"a b","client_id":"c","token_type":"Bearer","exp":1060,"iat":1000,` +
				`"sub":"we\"ird \u003czoë\u003e","aud":"rs","iss":"https://as","jti":"j"}`},
		"two audiences": {app.Introspection{Active: true, Access: &twoAud},
			`{"active":true,"scope":"a b","client_id":"c","token_type":"Bearer","exp":1060,"iat":1000,` +
				`"sub":"we\"ird \u003czoë\u003e","aud":["x","y"],"iss":"https://as","jti":"j"}`},
		"refresh token, a client's own": {app.Introspection{Active: true, Refresh: refresh},
			`{"active":true,"scope":"a","client_id":"c","exp":4600,"iat":1000,"sub":"c"}`},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := json.Marshal(introspectionBody(c.in))
			require.NoError(t, err)
			assert.Equal(t, c.want, string(got))
		})
	}
}
