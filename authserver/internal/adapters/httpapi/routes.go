// Package httpapi is the authorization server's HTTP edge: it parses OAuth
// requests as the RFCs say, calls the use cases, and maps their results and
// errors to RFC-shaped responses. Every route is listed in NewHandler.
package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"go.uber.org/zap"
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
}

// NewHandler returns the OAuth endpoints, to be mounted at Metadata.BaseURL.
func NewHandler(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(httpserver.LimitBody(d.MaxBodyBytes))
	r.Method(http.MethodPost, "/token", handleToken(d.Clients, d.Tokens, d.Log))
	r.Method(http.MethodPost, "/introspect", handleIntrospect(secretOnly{d.Clients}, d.Introspector, d.Log))
	r.Method(http.MethodPost, "/revoke", handleRevoke(d.Clients, d.Revoker, d.Log))
	r.Method(http.MethodGet, "/jwks.json", handleJWKS(d.JWKS))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		httpserver.JSON(w, http.StatusNotFound, errorBody{Error: "not_found", Description: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		httpserver.JSON(w, http.StatusMethodNotAllowed, errorBody{Error: domain.InvalidRequest, Description: r.Method + " is not allowed here"})
	})
	return r
}

// NewMetadataHandler returns the RFC 8414 document's handler, to be served at
// /.well-known/oauth-authorization-server on the issuer's host.
func NewMetadataHandler(d Deps) http.Handler {
	return handleMetadata(d.Metadata, d.Scopes, d.Log)
}
