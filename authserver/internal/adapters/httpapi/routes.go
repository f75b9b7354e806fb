// Package httpapi is the authorization server's HTTP edge: it parses OAuth
// requests as the RFCs say, calls the use cases, and maps their results and
// errors to RFC-shaped responses. Every route is listed in NewHandler.
package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/webpage"
)

// Deps are the handlers' dependencies.
type Deps struct {
	Log *zap.Logger
	// TrustedProxies are believed when they say, in X-Forwarded-For, whom
	// they forward; the limits count attempts by that address.
	TrustedProxies httpserver.TrustedProxies
	Clients        ClientAuthenticator
	Tokens         TokenExchanger
	Introspector   Introspector
	Revoker        Revoker
	JWKS           func() []byte
	Scopes         ScopeLister
	// Origins are the clients' CORS origins.
	Origins      OriginChecker
	Metadata     Metadata
	MaxBodyBytes int64
	// RateLimits limit each source address and each client; nil, nothing.
	RateLimits *RateLimits
	// The browser flows; nil Authorizer leaves them out.
	Authorizer Authorizer
	Accounts   Accounts
	Consents   Consents
	Pages      PageConfig
	// Registration serves /register (RFC 7591, 7592); nil leaves it out.
	Registration Registrar
	// RegisterLimits bound registrations per source address (their
	// Register budget), at /register and on the developer pages; nil,
	// nothing.
	RegisterLimits *RateLimits
	// Developer serves the developer pages (developer.go) with the
	// browser pages; nil leaves them out.
	Developer Developer
	// OpenID Connect's UserInfo and RP-Initiated Logout; nil leaves each
	// out.
	UserInfo UserInfoProvider
	Logouts  Logouts
}

// NewHandler returns the OAuth endpoints and pages, to be mounted at
// Metadata.BaseURL. It fails only if the embedded templates do not parse.
func NewHandler(d Deps) (http.Handler, error) {
	base := basePath(d.Metadata.BaseURL)
	r := chi.NewRouter()
	// HEAD wherever GET is served: here too, since an embedder may mount
	// this handler without the base router (httpserver.NewRouter).
	r.Use(httpserver.LimitBody(d.MaxBodyBytes), middleware.GetHead)
	if len(d.TrustedProxies) > 0 {
		r.Use(withProxies(d.TrustedProxies))
	}

	// OAuth endpoints for clients: each source address, then each
	// authenticated client, has a budget (ratelimit.go); browsers on a
	// client's origins may read the token and revocation answers (cors.go).
	oauth := r.With(d.RateLimits.bySource(sourceBudget, tooManyRequests))
	clients := d.RateLimits.limitClients(d.Clients)
	oauth.Method(http.MethodPost, "/token", clientCORS(d.Origins, d.Log, handleToken(clients, d.Tokens, d.Log)))
	oauth.Method(http.MethodOptions, "/token", clientPreflight(d.Origins, d.Log))
	oauth.Method(http.MethodPost, "/introspect", handleIntrospect(d.RateLimits.limitClients(secretOnly{d.Clients}), d.Introspector, d.Log))
	oauth.Method(http.MethodPost, "/revoke", clientCORS(d.Origins, d.Log, handleRevoke(clients, d.Revoker, d.Log)))
	oauth.Method(http.MethodOptions, "/revoke", clientPreflight(d.Origins, d.Log))
	if d.UserInfo != nil {
		userInfo := handleUserInfo(d.UserInfo, d.Log)
		oauth.Method(http.MethodGet, "/userinfo", userInfo)
		oauth.Method(http.MethodPost, "/userinfo", userInfo)
	}
	public := r.With(d.RateLimits.bySource(publicBudget, tooManyRequests))
	public.Method(http.MethodGet, "/jwks.json", publicCORS(handleJWKS(d.JWKS)))

	// Dynamic client registration (register.go): each source address
	// has a budget of registrations on top of its budget of requests.
	if d.Registration != nil {
		s, err := compileRegistrationSchema()
		if err != nil {
			return nil, err
		}
		baseURL, openID := d.Metadata.BaseURL, d.Metadata.OpenID != nil
		oauth.With(d.RegisterLimits.bySource(registerBudget, tooManyRequests)).
			Method(http.MethodPost, "/register", handleRegister(d.Registration, baseURL, openID, s, d.Log))
		oauth.Method(http.MethodGet, "/register/{client_id}", handleReadRegistration(d.Registration, baseURL, openID, d.Log))
		oauth.Method(http.MethodPut, "/register/{client_id}", handleUpdateRegistration(d.Registration, baseURL, openID, s, d.Log))
		oauth.Method(http.MethodDelete, "/register/{client_id}", handleDeleteRegistration(d.Registration, d.Log))
	}

	// Pages for people. Their forms carry CSRF tokens (pages.go); in
	// front of them, cross-origin POSTs are refused outright.
	if d.Authorizer != nil {
		p, err := newPages(base, d.Pages, d.Authorizer, d.Log)
		if err != nil {
			return nil, err
		}
		sameOrigin := http.NewCrossOriginProtection()
		sameOrigin.SetDenyHandler(http.HandlerFunc(p.formRefused))
		r.Group(func(r chi.Router) {
			r.Use(d.RateLimits.bySource(sourceBudget, p.tooManyPages), sameOrigin.Handler)
			authorize := handleAuthorize(p, d.Authorizer)
			r.Method(http.MethodGet, "/authorize", authorize)
			r.Method(http.MethodPost, "/authorize", authorize)
			r.Method(http.MethodGet, "/login", handleLoginForm(p, d.Accounts, false))
			r.Method(http.MethodPost, "/login", handleLogin(p, d.Accounts))
			r.Method(http.MethodGet, "/signup", handleLoginForm(p, d.Accounts, true))
			r.Method(http.MethodPost, "/signup", handleSignup(p, d.Accounts))
			r.Method(http.MethodGet, "/logout", handleLogoutForm(p))
			r.Method(http.MethodPost, "/logout", handleLogout(p, d.Accounts))
			r.Method(http.MethodGet, "/account", handleAccount(p, d.Accounts, d.Consents))
			r.Method(http.MethodPost, "/account/revoke", handleRevokeGrant(p, d.Accounts, d.Consents))
			r.Method(http.MethodPost, "/account/sessions/end", handleEndSession(p, d.Accounts))
			r.Method(http.MethodPost, "/account/delete", handleCloseAccountPage(p, d.Accounts, d.Consents))
			if d.Logouts != nil {
				r.Method(http.MethodPost, "/end_session/confirm", handleRPLogoutConfirm(p, d.Logouts, d.Accounts))
			}
			if d.Developer != nil {
				r.Method(http.MethodGet, "/developer", handleDeveloper(p, d.Accounts, d.Developer))
				r.With(d.RegisterLimits.bySource(registerBudget, p.tooManyPages)).
					Method(http.MethodPost, "/developer/clients", handleRegisterOwn(p, d.Accounts, d.Developer))
				r.Method(http.MethodPost, "/developer/clients/delete", handleDeleteOwn(p, d.Accounts, d.Developer))
			}
		})
		if d.Logouts != nil {
			// A client's page posts here from its own origin: outside the
			// cross-origin wall, and changing nothing (see handleRPLogout).
			logout := r.With(d.RateLimits.bySource(sourceBudget, p.tooManyPages))
			endSession := handleRPLogout(p, d.Logouts, d.Accounts)
			logout.Method(http.MethodGet, "/end_session", endSession)
			logout.Method(http.MethodPost, "/end_session", endSession)
		}
		public.Method(http.MethodGet, "/static/*", http.StripPrefix(base+"/static", handleStatic()))
	}

	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		httpserver.JSON(w, http.StatusNotFound, oautherr.Error{Code: "not_found", Description: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		httpserver.JSON(w, http.StatusMethodNotAllowed, oautherr.Error{Code: oautherr.InvalidRequest, Description: r.Method + " is not allowed here"})
	})
	return r, nil
}

// APIDeps are the accounts and admin APIs' dependencies.
type APIDeps struct {
	Log            *zap.Logger
	TrustedProxies httpserver.TrustedProxies
	Accounts       AccountsAPI
	// Admin serves /admin; nil leaves it out.
	Admin AdminAPI
	// SecureCookies says the pages' cookies are Secure (an https
	// issuer): the admin API reads the session cookie under their name.
	SecureCookies bool
	MaxBodyBytes  int64
	// RateLimits limit each source address; nil, nothing.
	RateLimits *RateLimits
}

// NewAPIHandler returns the accounts and sessions API, to be mounted at
// /api. It fails only if the embedded schemas do not compile.
func NewAPIHandler(d APIDeps) (http.Handler, error) {
	s, err := compileAPISchemas()
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(httpserver.LimitBody(d.MaxBodyBytes), middleware.GetHead)
	if len(d.TrustedProxies) > 0 {
		r.Use(withProxies(d.TrustedProxies))
	}
	r.Use(d.RateLimits.bySource(sourceBudget, tooManyAPIRequests))

	r.Method(http.MethodPost, "/accounts", handleCreateAccount(d.Accounts, s, d.Log))
	r.Method(http.MethodPost, "/sessions", handleOpenSession(d.Accounts, s, d.Log))
	r.Group(func(r chi.Router) {
		r.Use(requireSession(d.Accounts, d.Log))
		r.Method(http.MethodGet, "/sessions/{id}", handleGetSession(d.Accounts, d.Log))
		r.Method(http.MethodPatch, "/sessions/{id}", handlePatchSession(d.Accounts, s, d.Log))
		r.Method(http.MethodDelete, "/sessions/{id}", handleDeleteSession(d.Accounts, d.Log))
		r.Method(http.MethodGet, "/accounts/{id}", handleGetAccount(d.Accounts, d.Log))
		r.Method(http.MethodDelete, "/accounts/{id}", handleDeleteAccount(d.Accounts, s, d.Log))
		r.Method(http.MethodPut, "/accounts/{id}/password", handleChangePassword(d.Accounts, s, d.Log))
		r.Method(http.MethodGet, "/accounts/{id}/sessions", handleListSessions(d.Accounts, d.Log))
		r.Method(http.MethodDelete, "/accounts/{id}/sessions", handleEndSessions(d.Accounts, d.Log))
	})
	if d.Admin != nil {
		r.Route("/admin", func(r chi.Router) {
			// The pages' session cookie, under the name they set it with
			// (Path=/ when Secure; see newPages).
			cookie := webpage.Cookies{Secure: d.SecureCookies}.Name(sessionCookie, "/")
			r.Use(requireAdmin(d.Admin, d.Accounts, d.Accounts, cookie, d.Log))
			r.Method(http.MethodGet, "/clients", handleListClients(d.Admin, d.Log))
			r.Method(http.MethodPost, "/clients", handleCreateClient(d.Admin, s, d.Log))
			r.Method(http.MethodGet, "/clients/{id}", handleGetClient(d.Admin, d.Log))
			r.Method(http.MethodPut, "/clients/{id}", handleUpdateClient(d.Admin, s, d.Log))
			r.Method(http.MethodDelete, "/clients/{id}", handleDeleteClient(d.Admin, d.Log))
			r.Method(http.MethodGet, "/users", handleListUsers(d.Admin, d.Log))
			r.Method(http.MethodPost, "/users", handleCreateUser(d.Admin, s, d.Log))
			r.Method(http.MethodGet, "/users/{id}", handleGetUser(d.Admin, d.Log))
			r.Method(http.MethodPatch, "/users/{id}", handleUpdateUser(d.Admin, s, d.Log))
			r.Method(http.MethodDelete, "/users/{id}", handleDeleteUser(d.Admin, d.Log))
		})
	}

	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		noStore(w)
		httpserver.JSON(w, http.StatusNotFound, apiErrorBody{Errors: []apiProblem{{Message: errNoRoute.Error()}}})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		httpserver.JSON(w, http.StatusMethodNotAllowed, apiErrorBody{Errors: []apiProblem{{Message: r.Method + " is not allowed here"}}})
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
	return d.RateLimits.bySource(publicBudget, tooManyRequests)(publicCORS(handleMetadata(d.Metadata, d.Scopes, d.Log)))
}

// NewOpenIDConfigurationHandler returns the OpenID Connect discovery
// document's handler, to be served at /.well-known/openid-configuration
// under the issuer; a 404 if the server is no OpenID Provider.
func NewOpenIDConfigurationHandler(d Deps) http.Handler {
	if d.Metadata.OpenID == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			httpserver.JSON(w, http.StatusNotFound, oautherr.Error{Code: "not_found", Description: "this server is no OpenID Provider"})
		})
	}
	return NewMetadataHandler(d)
}
