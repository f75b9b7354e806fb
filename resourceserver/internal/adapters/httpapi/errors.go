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

// unauthorized names the refusal of a request that carried no token at
// all. RFC 6750 §3.1 gives it no error code, since the client has not tried
// and failed, and its challenge carries none; the JSON body still needs a
// name.
const unauthorized oautherr.Code = "unauthorized"

var unavailableBody = oautherr.Error{Code: oautherr.TemporarilyUnavailable, Description: "the authorization server is unavailable"}

// oauthError is the answer to a refusal: its status, body and challenge
// (RFC 6750 §3); ok is false if err is no refusal.
func oauthError(err error) (status int, body oautherr.Error, challenge string, ok bool) {
	var se *domain.ScopeError
	var oe *oautherr.Error
	switch {
	case errors.Is(err, domain.ErrNoToken):
		body = oautherr.Error{Code: unauthorized, Description: domain.ErrNoToken.Error()}
		return http.StatusUnauthorized, body, oautherr.BearerChallenge(realm, nil), true
	case errors.Is(err, domain.ErrTokenInactive):
		body = oautherr.Error{Code: oautherr.InvalidToken, Description: domain.ErrTokenInactive.Error()}
	case errors.As(err, &se):
		body = oautherr.Error{Code: oautherr.InsufficientScope, Description: se.Error(), Scope: se.Scope}
	case errors.As(err, &oe):
		body = *oe
	default:
		return 0, body, "", false
	}
	return oautherr.Status(body.Code), body, oautherr.BearerChallenge(realm, &body), true
}

// writeError answers err. It is the one place errors become responses and
// the one place they are logged: a caller's bad token is not worth a line
// beyond the access log; no answer from the authorization server is a warn,
// since it recovers by itself; our credentials being refused is an error,
// since it will not recover until someone fixes the configuration.
func writeError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	if status, body, challenge, ok := oauthError(err); ok {
		w.Header().Set("WWW-Authenticate", challenge)
		oautherr.Write(w, status, body)
		return
	}
	switch {
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
