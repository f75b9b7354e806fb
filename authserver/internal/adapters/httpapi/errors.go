package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
)

// realm names the protection space of the Basic challenge (RFC 7617).
const realm = "authserver"

// oauthError is the body of a protocol error (RFC 6749 §5.2).
func oauthError(pe *domain.Error) oautherr.Error {
	return oautherr.Error{Code: oautherr.Code(pe.Code), Description: pe.Description}
}

// status is the HTTP status of a protocol error code.
func status(code domain.ErrorCode) int { return oautherr.Status(oautherr.Code(code)) }

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
			w.Header().Set("WWW-Authenticate", oautherr.BasicChallenge(realm))
		}
		oautherr.Write(w, status(pe.Code), oauthError(pe))
	case errors.Is(err, domain.ErrUnavailable):
		zaplog.For(r.Context(), log).Warn("backend unavailable", zap.Error(err))
		w.Header().Set("Retry-After", retryAfter(err))
		oautherr.Write(w, http.StatusServiceUnavailable, oautherr.Error{Code: oautherr.TemporarilyUnavailable, Description: "the service is temporarily unavailable; retry shortly"})
	default:
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		oautherr.Write(w, http.StatusInternalServerError, oautherr.Error{Code: oautherr.ServerError, Description: "internal error"})
	}
}

// writeFormError is writeError plus 413 for an oversized body and 429 for
// a client past its rate limit.
func writeFormError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	if writeRateLimited(w, r, err) {
		return
	}
	if errors.Is(err, errTooLarge) {
		oautherr.Write(w, http.StatusRequestEntityTooLarge, oauthError(errTooLarge))
		return
	}
	writeError(w, r, log, err)
}

// noStore marks a response as holding credentials (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) { oautherr.NoStore(w.Header()) }

// retryAfter is the Retry-After value for an outage: the use case's hint
// when it has one (a code exchange whose claim may still be held), else one
// second, in whole seconds rounded up.
func retryAfter(err error) string {
	d := domain.RetryAfterOf(err, time.Second)
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
