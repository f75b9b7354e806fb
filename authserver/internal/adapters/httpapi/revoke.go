package httpapi

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Revoker answers RFC 7009 requests.
type Revoker interface {
	// Revoke revokes token on behalf of caller; an unknown or invalid token is
	// not an error (RFC 7009 §2.2).
	Revoke(ctx context.Context, caller domain.Client, token, hint string) error
}

// handleRevoke serves RFC 7009 §2: 200 with an empty body once the token is
// revoked, or if it was unknown or already invalid.
func handleRevoke(clients ClientAuthenticator, rv Revoker, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, caller, err := authenticate(w, r, clients)
		if err != nil {
			writeFormError(w, r, log, err)
			return
		}
		if err := rv.Revoke(r.Context(), caller, f["token"], f["token_type_hint"]); err != nil {
			writeError(w, r, log, err)
			return
		}
		noStore(w)
		w.WriteHeader(http.StatusOK)
	})
}
