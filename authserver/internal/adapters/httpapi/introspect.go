package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/jsonw"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
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
		h := w.Header()
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		var buf [512]byte
		//nolint:gosec // G705: application/json written by jsonw, which escapes every string
		_, _ = w.Write(appendIntrospection(buf[:0], introspectionBody(res)))
	})
}

// appendIntrospection writes the answer a resource server asks for on
// every request it serves, without encoding/json's reflection. It writes
// what encoding/json would (TestAppendIntrospection holds them equal).
func appendIntrospection(b []byte, r introspection.Response) []byte {
	if !r.Active {
		return append(b, `{"active":false}`+"\n"...)
	}
	b = append(b, `{"active":true`...)
	field := func(name, v string) {
		if v != "" {
			b = append(b, `,"`+name+`":`...)
			b = jsonw.String(b, v)
		}
	}
	number := func(name string, v int64) {
		if v != 0 {
			b = append(b, `,"`+name+`":`...)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	field("scope", r.Scope)
	field("client_id", r.ClientID)
	field("username", r.Username)
	field("token_type", r.TokenType)
	number("exp", r.Exp)
	number("iat", r.Iat)
	number("nbf", r.Nbf)
	field("sub", r.Sub)
	switch len(r.Aud) {
	case 0:
	case 1:
		field("aud", r.Aud[0])
	default:
		b = append(b, `,"aud":[`...)
		for i, a := range r.Aud {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.String(b, a)
		}
		b = append(b, ']')
	}
	field("iss", r.Iss)
	field("jti", r.Jti)
	return append(b, "}\n"...)
}

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
