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
	ResponseModes         []string
	// RegistrationEndpoint is set when clients may register (RFC 7591).
	RegistrationEndpoint bool
	// OpenID is set when the server is an OpenID Provider: it adds
	// OpenID Connect Discovery's fields, and the discovery document is
	// served.
	OpenID *OpenIDMetadata
}

// OpenIDMetadata is what OpenID Connect Discovery 1.0 §3 adds.
type OpenIDMetadata struct {
	// IDTokenAlgs are the algorithms ID tokens may be signed with.
	IDTokenAlgs []string
	// PromptValues are the prompt values acted on.
	PromptValues []string
	// UserInfo and EndSession say whether those endpoints are served.
	UserInfo, EndSession bool
}

// openIDClaims are the claims this server may put in an ID token or a
// UserInfo answer.
var openIDClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "sid",
	"name", "preferred_username", "updated_at", "email", "email_verified",
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
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`

	// OpenID Connect Discovery 1.0 §3.
	UserInfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint    string   `json:"end_session_endpoint,omitempty"`
	SubjectTypesSupported []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClaimsSupported       []string `json:"claims_supported,omitempty"`
	PromptValuesSupported []string `json:"prompt_values_supported,omitempty"`
	UILocalesSupported    []string `json:"ui_locales_supported,omitempty"`
	ClaimsParameter       *bool    `json:"claims_parameter_supported,omitempty"`
	RequestParameter      *bool    `json:"request_parameter_supported,omitempty"`
	RequestURIParameter   *bool    `json:"request_uri_parameter_supported,omitempty"`
	FrontchannelLogout    *bool    `json:"frontchannel_logout_supported,omitempty"`
	BackchannelLogout     *bool    `json:"backchannel_logout_supported,omitempty"`
}

// metadataDocument is the RFC 8414 document m describes; with m.OpenID,
// also OpenID Connect Discovery's, which is the same document: one
// issuer, one set of endpoints.
func metadataDocument(m Metadata) metadataDoc {
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
		doc.ResponseModesSupported = m.ResponseModes
	}
	if o := m.OpenID; o != nil {
		no := false
		if o.UserInfo {
			doc.UserInfoEndpoint = m.BaseURL + "/userinfo"
		}
		if o.EndSession {
			doc.EndSessionEndpoint = m.BaseURL + "/end_session"
		}
		doc.SubjectTypesSupported = []string{"public"}
		doc.IDTokenSigningAlgs = o.IDTokenAlgs
		doc.ClaimsSupported = openIDClaims
		doc.PromptValuesSupported = o.PromptValues
		doc.UILocalesSupported = []string{"en"}
		// request_uri_parameter_supported defaults to true: each is said.
		doc.ClaimsParameter, doc.RequestParameter, doc.RequestURIParameter = &no, &no, &no
		doc.FrontchannelLogout, doc.BackchannelLogout = &no, &no
	}
	return doc
}

// handleMetadata serves the RFC 8414 authorization server metadata, or
// the OpenID Connect discovery document: the same document, with the
// scopes the server knows now.
func handleMetadata(m Metadata, scopes ScopeLister, log *zap.Logger) http.Handler {
	doc := metadataDocument(m)
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
