package domain

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ClientType is RFC 6749 §2.1's client type.
type ClientType string

const (
	// Confidential clients can keep a secret (a server-side app).
	Confidential ClientType = "confidential"
	// Public clients cannot (a native or browser app); they must use PKCE.
	Public ClientType = "public"
)

// AuthMethod is how a client authenticates at the token, introspection and
// revocation endpoints (RFC 7591 §2 token_endpoint_auth_method values).
type AuthMethod string

// The client authentication methods the server supports; AuthNone is a
// public client's, which has no secret.
const (
	ClientSecretBasic AuthMethod = "client_secret_basic"
	ClientSecretPost  AuthMethod = "client_secret_post"
	AuthNone          AuthMethod = "none"
)

// GrantType is a grant_type value of RFC 6749, plus "implicit", which has no
// grant_type but is allowed per client the same way.
type GrantType string

// The grant types a client may be allowed.
const (
	GrantAuthorizationCode GrantType = "authorization_code"
	GrantImplicit          GrantType = "implicit"
	GrantPassword          GrantType = "password"
	GrantClientCredentials GrantType = "client_credentials"
	GrantRefreshToken      GrantType = "refresh_token"
)

// Client is a registered OAuth 2.0 client.
type Client struct {
	ID   string
	Name string
	Type ClientType
	// SecretHash is the hashed secret of a confidential client, in the
	// self-describing form the hashing adapter writes ("$argon2id$...").
	SecretHash string
	// AuthMethods are the ways this client may authenticate. Confidential
	// clients commonly allow both secret methods; public ones only "none".
	AuthMethods  []AuthMethod
	GrantTypes   []GrantType
	RedirectURIs []string
	// Scopes the client may be granted, and the ones it gets when a request
	// names none (RFC 6749 §3.3).
	Scopes        Scope
	DefaultScopes Scope
	// Audience is the "aud" of the client's access tokens; empty means the
	// server's default audience.
	Audience []string
	// Token lifetimes; zero means the server's default.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// Introspection lets the client introspect any access token, which is
	// what a resource server needs. Without it a client may introspect only
	// tokens issued to itself.
	Introspection bool
	// AllowPlainPKCE lets the client use code_challenge_method=plain; off by
	// default because plain protects nothing if the request leaks.
	AllowPlainPKCE bool
	// PKCEOptional lets a confidential client leave PKCE out. PKCE is on by
	// default for every client (RFC 9700 §2.1.1) and can never be off for a
	// public one.
	PKCEOptional bool
	// RateLimit is the client's request budget at the token, introspection
	// and revocation endpoints; zero means the server's default.
	RateLimit RateLimit
	// AllowedOrigins are the web origins whose pages may read this client's
	// answers from the token and revocation endpoints (CORS), in
	// ValidateOrigin's form. Registration defaults them to the origins of
	// the redirect URIs (DefaultOrigins); none means no browser app.
	AllowedOrigins []string
	// ManagedBy says where the client's record is kept: fixtures
	// (configuration), the admin use cases, or registration.
	ManagedBy ClientManager
	// Owner is the id of the user who registered the client on the
	// developer pages; "" for any other client. Closing the account
	// deletes the clients it owns.
	Owner string
	// RegistrationTokenHash is the hash (SHA-256, hex) of the RFC 7592
	// registration access token that manages the client at its
	// registration_client_uri; "" if it was not registered by RFC 7591.
	RegistrationTokenHash string
	// IDTokenAlg is the JWS algorithm of the client's ID tokens (OpenID
	// Connect Dynamic Client Registration's id_token_signed_response_alg);
	// "" means DefaultIDTokenAlg.
	IDTokenAlg string
	// PostLogoutRedirectURIs are where RP-Initiated Logout may send the
	// browser after signing the user out, each compared exactly, as
	// redirect URIs are.
	PostLogoutRedirectURIs []string
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// DefaultIDTokenAlg signs the ID tokens of a client that names no
// algorithm: OpenID Connect Core §3.1.3.7 makes RS256 the one every
// relying party can verify.
const DefaultIDTokenAlg = "RS256"

// IDTokenAlgs are the algorithms a client may ask its ID tokens to be
// signed with. A server signs with those it holds keys for; "none" is
// never one of them.
var IDTokenAlgs = []string{"RS256", "ES256", "EdDSA"}

// IDTokenSigningAlg is the algorithm the client's ID tokens are signed
// with.
func (c *Client) IDTokenSigningAlg() string {
	if c.IDTokenAlg == "" {
		return DefaultIDTokenAlg
	}
	return c.IDTokenAlg
}

// HasPostLogoutRedirectURI reports whether uri is registered for
// RP-Initiated Logout, compared exactly.
func (c *Client) HasPostLogoutRedirectURI(uri string) bool {
	return slices.Contains(c.PostLogoutRedirectURIs, uri)
}

// ClientManager says who keeps a client's record.
type ClientManager string

// The managers of client records.
const (
	// ManagedByConfig is a client of the fixture files: it changes when
	// they do, and the admin use cases leave it alone. The zero value
	// counts as this (a record stored before clients said).
	ManagedByConfig ClientManager = "config"
	// ManagedByAdmin is a client made with the admin API, the CLI or the
	// library's management calls.
	ManagedByAdmin ClientManager = "admin"
	// ManagedByRegistration is a client that registered itself (RFC 7591)
	// or that a user registered on the developer pages. The admin use
	// cases manage it too.
	ManagedByRegistration ClientManager = "registration"
)

// ConfigManaged reports whether the client is the fixtures', not the
// admin use cases'.
func (c *Client) ConfigManaged() bool { return c.ManagedBy == ManagedByConfig || c.ManagedBy == "" }

// AllowsGrant reports whether the client may use grant g.
func (c *Client) AllowsGrant(g GrantType) bool { return slices.Contains(c.GrantTypes, g) }

// RequiresPKCE reports whether authorization requests must carry a PKCE
// challenge.
func (c *Client) RequiresPKCE() bool { return c.Type == Public || !c.PKCEOptional }

// HasRedirectURI reports whether uri is registered, compared exactly as
// RFC 9700 §4.1.1 requires: no prefixes, no patterns.
func (c *Client) HasRedirectURI(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }

// AllowsOrigin reports whether a page from origin, as a browser's Origin
// header names it, may read the client's answers.
func (c *Client) AllowsOrigin(origin string) bool { return slices.Contains(c.AllowedOrigins, origin) }

// AllowsAuthMethod reports whether the client may authenticate with m.
func (c *Client) AllowsAuthMethod(m AuthMethod) bool { return slices.Contains(c.AuthMethods, m) }

// GrantScope decides the scope of a new grant from what was requested. An
// empty request gets the client's default scope; a request beyond what the
// client may have is refused with invalid_scope rather than silently cut down,
// so the client learns of its mistake (RFC 6749 §3.3 allows either).
func (c *Client) GrantScope(requested Scope) (Scope, error) {
	if len(requested) == 0 {
		if len(c.DefaultScopes) == 0 && len(c.Scopes) > 0 {
			return nil, Errorf(InvalidScope, "scope is required: this client has no default scope")
		}
		return c.DefaultScopes, nil
	}
	if missing := c.Scopes.Missing(requested); len(missing) > 0 {
		return nil, Errorf(InvalidScope, "scope %q is not allowed for this client", missing.String())
	}
	return requested, nil
}

// Validate checks the rules a client registration must follow.
func (c *Client) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	switch c.Type {
	case Confidential:
		if c.SecretHash == "" {
			errs = append(errs, errors.New("a confidential client needs a secret"))
		}
		if c.AllowsAuthMethod(AuthNone) {
			errs = append(errs, errors.New(`a confidential client cannot use auth method "none"`))
		}
	case Public:
		if c.SecretHash != "" {
			errs = append(errs, errors.New("a public client has no secret"))
		}
		if len(c.AuthMethods) != 1 || c.AuthMethods[0] != AuthNone {
			errs = append(errs, errors.New(`a public client authenticates with "none" only`))
		}
		if c.AllowsGrant(GrantClientCredentials) {
			errs = append(errs, errors.New("client_credentials is for confidential clients only"))
		}
		if c.PKCEOptional {
			errs = append(errs, errors.New("a public client must use PKCE"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown client type %q", c.Type))
	}
	if len(c.AuthMethods) == 0 {
		errs = append(errs, errors.New("at least one auth method is required"))
	}
	if (c.AllowsGrant(GrantAuthorizationCode) || c.AllowsGrant(GrantImplicit)) && len(c.RedirectURIs) == 0 {
		errs = append(errs, errors.New("redirect-based grants need at least one redirect URI"))
	}
	for _, u := range c.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("post-logout: %w", err))
		}
	}
	if c.IDTokenAlg != "" && !slices.Contains(IDTokenAlgs, c.IDTokenAlg) {
		errs = append(errs, fmt.Errorf("id_token_signed_response_alg %q is not one of %v", c.IDTokenAlg, IDTokenAlgs))
	}
	if !c.RateLimit.IsZero() {
		if err := c.RateLimit.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := ValidateOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.Scopes.Covers(c.DefaultScopes) {
		errs = append(errs, fmt.Errorf("default scopes %q are not all allowed scopes", c.Scopes.Missing(c.DefaultScopes).String()))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("client %q: %w", c.ID, err)
	}
	return nil
}
