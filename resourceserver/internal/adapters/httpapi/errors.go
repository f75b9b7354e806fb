package httpapi

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// realm names the protection space in every challenge (RFC 6750 §3).
const realm = "resourceserver"

var unavailableBody = oautherr.Error{Code: oautherr.TemporarilyUnavailable, Description: "the authorization server is unavailable"}

// oauthError is the answer to a protocol error: its status, body and
// challenge (RFC 6750 §3). A request that carried no token at all is a 401
// whose challenge has no error attribute (§3.1); its body still needs a
// code.
func oauthError(pe *domain.Error) (int, oautherr.Error, string) {
	e := oautherr.Error{Code: oautherr.Code(pe.Code), Description: pe.Description, Scope: pe.Scope}
	if pe.Code == domain.Unauthorized {
		return http.StatusUnauthorized, e, oautherr.BearerChallenge(realm, nil)
	}
	return oautherr.Status(e.Code), e, oautherr.BearerChallenge(realm, &e)
}

// writeError answers err. It is the one place errors become responses and
// the one place they are logged: a caller's bad token is not worth a line
// beyond the access log; no answer from the authorization server is a warn,
// since it recovers by itself; our credentials being refused is an error,
// since it will not recover until someone fixes the configuration.
func writeError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	var pe *domain.Error
	switch {
	case errors.As(err, &pe):
		status, body, challenge := oauthError(pe)
		w.Header().Set("WWW-Authenticate", challenge)
		oautherr.Write(w, status, body)
	case errors.Is(err, domain.ErrCredentialsRejected):
		zaplog.For(r.Context(), log).Error("introspection refused our client credentials; check introspection.client_id and client_secret", zap.Error(err))
		writeUnavailable(w)
	case errors.Is(err, domain.ErrUnavailable):
		zaplog.For(r.Context(), log).Warn("authorization server unavailable", zap.Error(err))
		writeUnavailable(w)
	default:
		// Unreachable today: every error the use cases return is one of the
		// above. Should one slip through, it is still a clean answer.
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		oautherr.Write(w, http.StatusInternalServerError, oautherr.Error{Code: oautherr.ServerError, Description: "internal error"})
	}
}

func writeUnavailable(w http.ResponseWriter) {
	// The token may be fine: a 503 says retry, where a 401 would tell the
	// client to throw the token away.
	w.Header().Set("Retry-After", "1")
	oautherr.Write(w, http.StatusServiceUnavailable, unavailableBody)
}
