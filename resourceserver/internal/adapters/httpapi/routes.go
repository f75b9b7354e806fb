// Package httpapi is the resource server's HTTP edge: it reads bearer tokens
// as RFC 6750 says, has the use cases authenticate them and check scope, and
// maps every outcome to a JSON response with the right challenge.
package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// Deps are the handlers' dependencies.
type Deps struct {
	Log         *zap.Logger
	Tokens      Authenticator
	CurrentTime app.CurrentTime
	EpochTime   app.EpochTime
}

// NewHandler returns the protected API. Unknown paths and methods fall
// through to whatever the router it is mounted on answers.
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	r.With(bearer(d.Tokens, domain.ScopeCurrentTime, d.Log)).
		Method(http.MethodGet, "/current_time", handleCurrentTime(d.CurrentTime))
	r.With(bearer(d.Tokens, domain.ScopeEpochTime, d.Log)).
		Method(http.MethodGet, "/epoch_time", handleEpochTime(d.EpochTime))
	return r
}
