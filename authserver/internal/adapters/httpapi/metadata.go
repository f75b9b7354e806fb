package httpapi

import (
	"context"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
)

// ScopeLister lists the scopes the server knows.
type ScopeLister interface {
	// ListScopes returns every scope the server knows.
	ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
}

// Metadata is what the RFC 8414 document is built from. It lists only what
// works: clients act on it.
type Metadata struct {
	Issuer string
	// BaseURL is the absolute URL at which Handler is mounted; endpoint URLs
	// are built on it.
	BaseURL              string
	GrantTypes           []domain.GrantType
	ResponseTypes        []string
	CodeChallengeMethods []string
	// AuthorizationEndpoint is set once the browser flows are served.
	AuthorizationEndpoint bool
	// RegistrationEndpoint is set when clients may register (RFC 7591).
	RegistrationEndpoint bool
}

type metadataDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods          []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIssSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// handleMetadata serves the RFC 8414 authorization server metadata.
func handleMetadata(m Metadata, scopes ScopeLister, log *zap.Logger) http.Handler {
	secretMethods := []string{string(domain.ClientSecretBasic), string(domain.ClientSecretPost)}
	allMethods := slices.Concat(secretMethods, []string{string(domain.AuthNone)})
	grants := make([]string, 0, len(m.GrantTypes))
	for _, g := range m.GrantTypes {
		if g != domain.GrantImplicit { // implicit has no grant_type value
			grants = append(grants, string(g))
		}
	}
	doc := metadataDoc{
		Issuer:                           m.Issuer,
		TokenEndpoint:                    m.BaseURL + "/token",
		JWKSURI:                          m.BaseURL + "/jwks.json",
		IntrospectionEndpoint:            m.BaseURL + "/introspect",
		RevocationEndpoint:               m.BaseURL + "/revoke",
		ResponseTypesSupported:           append([]string{}, m.ResponseTypes...),
		GrantTypesSupported:              grants,
		TokenEndpointAuthMethods:         allMethods,
		IntrospectionEndpointAuthMethods: secretMethods,
		RevocationEndpointAuthMethods:    allMethods,
		CodeChallengeMethodsSupported:    m.CodeChallengeMethods,
	}
	if m.RegistrationEndpoint {
		doc.RegistrationEndpoint = m.BaseURL + "/register"
	}
	if m.AuthorizationEndpoint {
		doc.AuthorizationEndpoint = m.BaseURL + "/authorize"
		doc.AuthorizationResponseIssSupported = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := scopes.ListScopes(r.Context())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		d := doc
		d.ScopesSupported = make([]string, len(list))
		for i, s := range list {
			d.ScopesSupported[i] = s.Name
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		httpserver.JSON(w, http.StatusOK, d)
	})
}

// handleJWKS serves the public signing keys (RFC 7517 §5). The cache time is
// short because a rotation must reach clients before the new key's tokens do.
func handleJWKS(jwks func() []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(jwks())
	})
}
