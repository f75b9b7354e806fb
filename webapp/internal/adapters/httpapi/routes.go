// Package httpapi is the webapp's HTTP edge. For curl, it reads the user's
// credentials from the request, calls the use cases, and answers with the
// resource server's body or with one JSON error shape; for browsers, it
// serves the pages of the browser demo (pages.go). Every route is listed in
// NewHandler.
package httpapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.uber.org/zap"

	"github.com/oauth2ref/webapp/internal/domain"
)

// TimeFetcher reads one kind of time on behalf of a user.
type TimeFetcher interface {
	// FetchTime gets a token for the user with only the scope which needs and
	// reads that time from the resource server with it.
	FetchTime(ctx context.Context, creds domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error)
}

// Deps are the handler's dependencies.
type Deps struct {
	// Log is where failures are logged (a no-op logger if nil).
	Log   *zap.Logger
	Times TimeFetcher
	// DemoUser stands in for requests that carry no credentials. An empty
	// Username switches the fallback off: such requests get a 401.
	DemoUser domain.Credentials
	// ClientID is the webapp's own OAuth client id, put on each request's
	// log lines.
	ClientID string
	// Pages are the browser demo's pages; nil leaves them out.
	Pages *Pages
}

// NewHandler returns the webapp's routes: the time endpoints and the
// browser pages. cmd/webapp mounts it at / on the shared stack
// (httpserver.NewRouter), whose 404 and 405 it answers unknown paths and
// methods with.
func NewHandler(d Deps) http.Handler {
	log := d.Log
	if log == nil {
		log = zap.NewNop()
	}
	r := chi.NewRouter()
	// HEAD wherever GET is served, whatever router this is mounted on.
	r.Use(middleware.GetHead)
	r.Method(http.MethodGet, "/current_time", handleTime(domain.CurrentTime, d.Times, d.DemoUser, d.ClientID, log))
	r.Method(http.MethodGet, "/epoch_time", handleTime(domain.EpochTime, d.Times, d.DemoUser, d.ClientID, log))
	if p := d.Pages; p != nil {
		// Besides the session's CSRF token, a POST the browser marks as
		// cross-origin is refused outright (http.CrossOriginProtection).
		sameOrigin := http.NewCrossOriginProtection()
		sameOrigin.SetDenyHandler(http.HandlerFunc(p.formRefused))
		r.Group(func(r chi.Router) {
			r.Use(p.headers, p.logClient, sameOrigin.Handler)
			r.Method(http.MethodGet, "/", handleHome(p))
			r.Method(http.MethodGet, "/login", handleLogin(p))
			r.Method(http.MethodGet, "/callback", handleCallback(p))
			r.Method(http.MethodPost, "/logout", handleLogout(p))
		})
		r.Method(http.MethodGet, "/static/*", http.StripPrefix("/static", handleStatic()))
	}
	return r
}
