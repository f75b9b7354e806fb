package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/zaplog"
)

// status maps each protocol error code to its HTTP status (RFC 6749 §5.2:
// 400 for everything but a failed client authentication).
func status(code domain.ErrorCode) int {
	switch code {
	case domain.InvalidClient, domain.InvalidToken:
		return http.StatusUnauthorized
	case domain.InsufficientScope, domain.AccessDenied:
		return http.StatusForbidden
	case domain.TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	case domain.ServerError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

type errorBody struct {
	Error       domain.ErrorCode `json:"error"`
	Description string           `json:"error_description,omitempty"`
}

// writeError answers err as an RFC 6749 §5.2 error. Protocol errors are the
// caller's fault and are not logged as errors (one refused by the limits
// says when to retry); a down backend becomes a fast 503
// temporarily_unavailable; a caller that went away is no error at all;
// anything else is a 500 server_error, logged here and only here, with no
// detail given to the caller.
func writeError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	noStore(w)
	if clientGone(w, r, log, err) {
		return
	}
	setRetryAfter(w, err)
	var pe *domain.Error
	switch {
	case errors.As(err, &pe):
		if pe.Code == domain.InvalidClient {
			// RFC 6749 §5.2 and RFC 7235 §3.1: a 401 says how to authenticate.
			w.Header().Set("WWW-Authenticate", `Basic realm="authserver", charset="UTF-8"`)
		}
		httpserver.JSON(w, status(pe.Code), errorBody{Error: pe.Code, Description: pe.Description})
	case errors.Is(err, domain.ErrUnavailable):
		zaplog.For(r.Context(), log).Warn("backend unavailable", zap.Error(err))
		w.Header().Set("Retry-After", retryAfter(err))
		httpserver.JSON(w, http.StatusServiceUnavailable, errorBody{Error: domain.TemporarilyUnavailable, Description: "the service is temporarily unavailable; retry shortly"})
	default:
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		httpserver.JSON(w, http.StatusInternalServerError, errorBody{Error: domain.ServerError, Description: "internal error"})
	}
}

// noStore marks a response as holding credentials (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// retryAfter is the Retry-After value for an outage: the use case's hint
// when it has one (a code exchange whose claim may still be held), else one
// second, in whole seconds rounded up.
func retryAfter(err error) string {
	d := domain.RetryAfterOf(err, time.Second)
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
