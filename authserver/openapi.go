package authserver

import (
	"net/http"

	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
)

// OpenAPIHandler serves the OpenAPI 3.1 description of the server's JSON
// endpoints (the OAuth endpoints, the metadata, the JWKS, OpenID
// Connect's discovery and UserInfo, the accounts and admin APIs), to be
// mounted at /openapi.json. The document gives the paths as
// cmd/authserver mounts them: /oauth, /api and the well-known metadata.
// It spends the same per-address budget as the metadata document.
func (srv *Server) OpenAPIHandler() http.Handler {
	return httpapi.NewOpenAPIHandler(httpapi.Deps{RateLimits: srv.tokens.limits})
}

// OpenAPIDocument returns the OpenAPIHandler's document.
func OpenAPIDocument() []byte { return httpapi.OpenAPIDocument() }
