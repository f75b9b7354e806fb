package httpapi

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/domain"
)

// writeAnswer sends the resource server's body as it came. no-store because
// the answer was got with the user's credentials and is stale in a second.
func writeAnswer(w http.ResponseWriter, ans domain.TimeAnswer) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans.Raw)
}

// errorBody is the shape of RFC 6749 §5.2, with the upstream that failed.
type errorBody struct {
	oautherr.Error
	Service domain.Service `json:"service,omitempty"`
}

// serverError is the answer to a failure of the webapp's own.
var serverError = errorBody{Error: oautherr.Error{Code: oautherr.ServerError, Description: "internal error"}}

// writeError is the one place errors become responses. The caller's
// mistakes (400, 401) are not logged beyond the access line; a down upstream
// (503) is a warning, as it heals by itself; an upstream answering nonsense
// (502) and anything unrecognised (500) need an operator and are errors.
func writeError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		writeBody(w, http.StatusInternalServerError, serverError)
		return
	}
	status, body := errorAnswer(de)
	fields := []zap.Field{zap.String("service", string(de.Service)), zap.Error(err)}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", oautherr.BasicChallenge("webapp"))
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
		zaplog.For(r.Context(), log).Warn("upstream unavailable", fields...)
	case http.StatusBadGateway:
		zaplog.For(r.Context(), log).Error("upstream answered unexpectedly", fields...)
	case http.StatusInternalServerError:
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
	}
	writeBody(w, status, body)
}

// errorAnswer maps a domain error to its status and body. A resource
// server's refusal of the token the webapp was just given is the upstream
// misbehaving, like any answer it should not have given. Codes of the
// pages' flows have no place here: a 500.
func errorAnswer(de *domain.Error) (int, errorBody) {
	status, code := http.StatusInternalServerError, de.Code
	switch de.Code {
	case domain.InvalidRequest:
		status = http.StatusBadRequest
	case domain.InvalidCredentials:
		status = http.StatusUnauthorized
	case domain.Unavailable:
		status = http.StatusServiceUnavailable
	case domain.BadGateway, domain.TokenRejected, domain.NotGranted:
		status, code = http.StatusBadGateway, domain.BadGateway
	default:
		return status, serverError
	}
	return status, errorBody{Error: oautherr.Error{Code: oautherr.Code(code), Description: de.Description}, Service: de.Service}
}

// writeBody writes an error answer, which no cache may keep: it was made
// with the caller's credentials.
func writeBody(w http.ResponseWriter, status int, body errorBody) {
	oautherr.NoStore(w.Header())
	httpserver.JSON(w, status, body)
}
