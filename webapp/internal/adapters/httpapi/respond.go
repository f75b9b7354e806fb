package httpapi

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver"
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

type errorBody struct {
	Error       domain.ErrorCode `json:"error"`
	Description string           `json:"error_description"`
	Service     domain.Service   `json:"service,omitempty"`
}

// writeError is the one place errors become responses. The caller's
// mistakes (400, 401) are not logged beyond the access line; a down upstream
// (503) is a warning, as it heals by itself; an upstream answering nonsense
// (502) and anything unrecognised (500) need an operator and are errors.
func writeError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var de *domain.Error
	if !errors.As(err, &de) {
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		httpserver.JSON(w, http.StatusInternalServerError, errorBody{Error: "server_error", Description: "internal error"})
		return
	}
	status := http.StatusInternalServerError
	fields := []zap.Field{zap.String("service", string(de.Service)), zap.Int("upstream_status", de.Status), zap.Error(err)}
	switch de.Code {
	case domain.InvalidRequest:
		status = http.StatusBadRequest
	case domain.InvalidCredentials:
		status = http.StatusUnauthorized
		h.Set("WWW-Authenticate", `Basic realm="webapp"`)
	case domain.Unavailable:
		status = http.StatusServiceUnavailable
		h.Set("Retry-After", "1")
		zaplog.For(r.Context(), log).Warn("upstream unavailable", fields...)
	case domain.BadGateway:
		status = http.StatusBadGateway
		zaplog.For(r.Context(), log).Error("upstream answered unexpectedly", fields...)
	default:
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		httpserver.JSON(w, status, errorBody{Error: "server_error", Description: "internal error"})
		return
	}
	httpserver.JSON(w, status, errorBody{Error: de.Code, Description: de.Description, Service: de.Service})
}
