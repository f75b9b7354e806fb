// Package httpapi is the authorization server's HTTP edge: it parses OAuth
// requests as the RFCs say, calls the use cases, and maps their results and
// errors to RFC-shaped responses. Every route is listed in NewHandler.
package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
)

// Deps are the handlers' dependencies.
type Deps struct {
	Log          *zap.Logger
	Clients      ClientAuthenticator
	Tokens       TokenExchanger
	Introspector Introspector
	Revoker      Revoker
	JWKS         func() []byte
	Scopes       ScopeLister
	Metadata     Metadata
	MaxBodyBytes int64
	// RateLimits limit each source address and each client; nil, nothing.
	RateLimits *RateLimits
	// The browser flows; nil Authorizer leaves them out.
	Authorizer Authorizer
	Accounts   Accounts
	Grants     Grants
	Pages      PageConfig
}

// NewHandler returns the OAuth endpoints and pages, to be mounted at
// Metadata.BaseURL. It fails only if the embedded templates do not parse.
func NewHandler(d Deps) (http.Handler, error) {
	base := basePath(d.Metadata.BaseURL)
	r := chi.NewRouter()
	r.Use(httpserver.LimitBody(d.MaxBodyBytes))

	// OAuth endpoints for clients: each source address, then each
	// authenticated client, has a budget (ratelimit.go).
	oauth := r.With(d.RateLimits.bySource(sourceBudget, tooManyRequests))
	clients := d.RateLimits.limitClients(d.Clients)
	oauth.Method(http.MethodPost, "/token", handleToken(clients, d.Tokens, d.Log))
	oauth.Method(http.MethodPost, "/introspect", handleIntrospect(d.RateLimits.limitClients(secretOnly{d.Clients}), d.Introspector, d.Log))
	oauth.Method(http.MethodPost, "/revoke", handleRevoke(clients, d.Revoker, d.Log))
	public := r.With(d.RateLimits.bySource(publicBudget, tooManyRequests))
	public.Method(http.MethodGet, "/jwks.json", handleJWKS(d.JWKS))

	// Pages for people.
	if d.Authorizer != nil {
		p, err := newPages(base, d.Pages, d.Log)
		if err != nil {
			return nil, err
		}
		authorize := handleAuthorize(p, d.Authorizer, d.Accounts, d.Scopes)
		pageRoutes := r.With(d.RateLimits.bySource(sourceBudget, p.tooManyPages))
		pageRoutes.Method(http.MethodGet, "/authorize", authorize)
		pageRoutes.Method(http.MethodPost, "/authorize", authorize)
		pageRoutes.Method(http.MethodGet, "/login", handleLoginForm(p, d.Accounts, false))
		pageRoutes.Method(http.MethodPost, "/login", handleLogin(p, d.Accounts))
		pageRoutes.Method(http.MethodGet, "/signup", handleLoginForm(p, d.Accounts, true))
		pageRoutes.Method(http.MethodPost, "/signup", handleSignup(p, d.Accounts))
		pageRoutes.Method(http.MethodGet, "/logout", handleLogoutForm(p))
		pageRoutes.Method(http.MethodPost, "/logout", handleLogout(p, d.Accounts))
		pageRoutes.Method(http.MethodGet, "/account", handleAccount(p, d.Accounts, d.Grants))
		pageRoutes.Method(http.MethodPost, "/account/revoke", handleRevokeGrant(p, d.Accounts, d.Grants))
		public.Method(http.MethodGet, "/static/*", http.StripPrefix(base+"/static", handleStatic()))
	}

	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		httpserver.JSON(w, http.StatusNotFound, errorBody{Error: "not_found", Description: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		httpserver.JSON(w, http.StatusMethodNotAllowed, errorBody{Error: domain.InvalidRequest, Description: r.Method + " is not allowed here"})
	})
	return r, nil
}

// basePath is the path part of the URL the handler is mounted at.
func basePath(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// NewMetadataHandler returns the RFC 8414 document's handler, to be served at
// /.well-known/oauth-authorization-server on the issuer's host.
func NewMetadataHandler(d Deps) http.Handler {
	return d.RateLimits.bySource(publicBudget, tooManyRequests)(handleMetadata(d.Metadata, d.Scopes, d.Log))
}
