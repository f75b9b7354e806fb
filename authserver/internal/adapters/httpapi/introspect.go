package httpapi

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/introspection"
)

// Introspector answers RFC 7662 requests.
type Introspector interface {
	// Introspect tells caller what the server knows of token; anything caller
	// may not see is inactive.
	Introspect(ctx context.Context, caller domain.Client, token, hint string) (app.Introspection, error)
}

// handleIntrospect serves RFC 7662 §2: an authenticated POST whose answer
// for anything not active is {"active":false} and nothing more.
func handleIntrospect(clients ClientAuthenticator, in Introspector, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, caller, err := authenticate(w, r, clients)
		if err != nil {
			writeFormError(w, r, log, err)
			return
		}
		res, err := in.Introspect(r.Context(), caller, f["token"], f["token_type_hint"])
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		noStore(w)
		httpserver.JSON(w, http.StatusOK, introspectionBody(res))
	})
}

// introspectionBody is the RFC 7662 §2.2 answer. Anything not active is
// the zero Response, which encodes as {"active":false} and nothing more:
// every other member is omitempty.
func introspectionBody(res app.Introspection) introspection.Response {
	switch {
	case !res.Active:
		return introspection.Response{Active: false}
	case res.Access != nil:
		t := res.Access
		return introspection.Response{
			Active:    true,
			Scope:     t.Scope.String(),
			ClientID:  t.ClientID,
			TokenType: "Bearer",
			Exp:       t.ExpiresAt.Unix(),
			Iat:       t.IssuedAt.Unix(),
			Sub:       t.Subject,
			Aud:       introspection.Audience(t.Audience),
			Iss:       t.Issuer,
			Jti:       t.ID,
		}
	case res.Refresh != nil:
		t := res.Refresh
		sub := t.UserID
		if sub == "" {
			sub = t.ClientID
		}
		return introspection.Response{
			Active:   true,
			Scope:    t.Scope.String(),
			ClientID: t.ClientID,
			Exp:      t.ExpiresAt.Unix(),
			Iat:      t.IssuedAt.Unix(),
			Sub:      sub,
		}
	}
	return introspection.Response{Active: false}
}
