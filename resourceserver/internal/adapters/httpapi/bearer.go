package httpapi

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// Authenticator decides whether a bearer token is one this server honours.
type Authenticator interface {
	// Authenticate returns the token if the authorization server says it is
	// active and it was issued for this server.
	Authenticate(ctx context.Context, token string) (domain.Token, error)
}

// bearer lets a request through only with a bearer token that the
// authorization server says is active and that grants scope. The token is
// checked first and the scope second, so a client with a bad token is told
// to get a new one rather than to ask for more scope.
func bearer(tokens Authenticator, scope string, log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, err := bearerToken(r.Header)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			t, err := tokens.Authenticate(r.Context(), raw)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			zaplog.SetClientID(r.Context(), t.ClientID)
			zaplog.SetUserID(r.Context(), t.Subject)
			if err := app.RequireScope(t, scope); err != nil {
				writeError(w, r, log, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerToken reads the token of an RFC 6750 §2.1 header,
// `Authorization: Bearer <b64token>`. The syntax is checked here so that
// junk never costs a round trip to the authorization server.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", domain.ErrNoToken
	case 1:
	default:
		// Which one would be meant? RFC 6750 §3.1 calls offering more than
		// one token a malformed request.
		return "", &oautherr.Error{Code: oautherr.InvalidRequest, Description: "send one Authorization header"}
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	// Auth scheme names are case-insensitive (RFC 7235 §2.1). Another
	// scheme is no bearer token at all: answered like a missing one.
	if !strings.EqualFold(scheme, "Bearer") {
		return "", domain.ErrNoToken
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "", &oautherr.Error{Code: oautherr.InvalidToken, Description: "the bearer token is empty"}
	}
	if !isB64Token(token) {
		return "", &oautherr.Error{Code: oautherr.InvalidToken, Description: "the bearer token is malformed"}
	}
	return token, nil
}

// isB64Token reports whether s is an RFC 6750 §2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && isB64Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func isB64Char(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}
