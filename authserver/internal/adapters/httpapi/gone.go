package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/zaplog"
)

// statusClientGone is what the access log and metrics record for a request
// whose caller hung up before it was answered (nginx's 499): not a server
// error, and nobody reads the answer.
const statusClientGone = 499

// clientGone answers, and reports true, when err only says that r's caller
// went away (its context was cancelled, say while its password hash was
// queued). That is logged at debug, never as an error.
func clientGone(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) bool {
	if r.Context().Err() == nil || !errors.Is(err, context.Canceled) {
		return false
	}
	zaplog.For(r.Context(), log).Debug("the caller went away", zap.Error(err))
	w.WriteHeader(statusClientGone)
	return true
}

// setRetryAfter sets Retry-After on the answer to an attempt refused by the
// limits: when it will be let in.
func setRetryAfter(w http.ResponseWriter, err error) {
	var th *domain.Throttled
	if errors.As(err, &th) {
		w.Header().Set("Retry-After", strconv.FormatInt(th.Seconds(), 10))
	}
}
