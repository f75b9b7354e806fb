package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// realm names the protection space in every challenge (RFC 6750 §3).
const realm = "resourceserver"

type errorBody struct {
	Error       domain.ErrorCode `json:"error"`
	Description string           `json:"error_description,omitempty"`
	Scope       string           `json:"scope,omitempty"`
}

var unavailableBody = errorBody{Error: domain.TemporarilyUnavailable, Description: "the authorization server is unavailable"}

// status maps each protocol error code to its HTTP status (RFC 6750 §3.1).
func status(code domain.ErrorCode) int {
	switch code {
	case domain.Unauthorized, domain.InvalidToken:
		return http.StatusUnauthorized
	case domain.InsufficientScope:
		return http.StatusForbidden
	case domain.TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
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
		w.Header().Set("WWW-Authenticate", challenge(pe))
		writeJSON(w, status(pe.Code), errorBody{Error: pe.Code, Description: pe.Description, Scope: pe.Scope})
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
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "server_error", Description: "internal error"})
	}
}

func writeUnavailable(w http.ResponseWriter) {
	// The token may be fine: a 503 says retry, where a 401 would tell the
	// client to throw the token away.
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, unavailableBody)
}

// challenge builds the WWW-Authenticate value of RFC 6750 §3. A request
// that carried no token gets no error attribute (§3.1); an insufficient
// scope names the scope needed instead of a description.
func challenge(e *domain.Error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="` + realm + `"`)
	if e.Code == domain.Unauthorized {
		return b.String()
	}
	b.WriteString(`, error="` + quotable(string(e.Code)) + `"`)
	if e.Code == domain.InsufficientScope && e.Scope != "" {
		b.WriteString(`, scope="` + quotable(e.Scope) + `"`)
		return b.String()
	}
	if e.Description != "" {
		b.WriteString(`, error_description="` + quotable(e.Description) + `"`)
	}
	return b.String()
}

// quotable drops what RFC 6750 §3 does not allow inside the quoted
// attribute values (%x20-21 / %x23-5B / %x5D-7E), so no description can
// break the header's syntax.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
