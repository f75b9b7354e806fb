package authserver

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
)

// The programmatic token API: what the token, introspection and revocation
// endpoints do, called from Go without HTTP. Each method runs the use case
// its endpoint runs, after the same client authentication (the same
// brute-force limits on secrets, the same audit events) and spends the
// same per-client request budget, so that a client gets no more through
// this door than through the other. Errors are the endpoints' too: an
// *Error with the RFC 6749 code (errors.Is(err, ErrInvalidGrant)), a
// *Throttled past the guessing limits, a *RateLimitError past the client's
// budget, ErrUnavailable when a backend is down.

// ClientAuth is the client a call is made for, and its proof: the id and
// secret it would present at the endpoints (client_secret_basic or
// client_secret_post, whichever the client is registered for), or the id
// alone for a public client where the endpoint allows it.
type ClientAuth struct {
	ID     string
	Secret string
	// Addr is where the request comes from, if the program knows (the end
	// user's address): the guessing limits count failures per source
	// address as they do at the endpoints. Left zero, every call without
	// one counts as coming from one unknown source.
	Addr netip.Addr
}

// PasswordRequest asks for tokens with the resource owner password
// credentials grant (RFC 6749 §4.3).
type PasswordRequest struct {
	Client   ClientAuth
	Username string
	Password string
	// Scope is space-delimited (RFC 6749 §3.3); empty asks for the
	// client's default scopes.
	Scope string
}

// ClientCredentialsRequest asks for a token with the client credentials
// grant (RFC 6749 §4.4).
type ClientCredentialsRequest struct {
	Client ClientAuth
	Scope  string
}

// RefreshRequest exchanges a refresh token for new tokens (RFC 6749 §6).
// The refresh token is rotated: the one presented is spent.
type RefreshRequest struct {
	Client       ClientAuth
	RefreshToken string
	// Scope may narrow the original grant, never widen it; empty keeps it.
	Scope string
}

// CodeExchangeRequest redeems an authorization code (RFC 6749 §4.1.3)
// with its PKCE verifier (RFC 7636 §4.5).
type CodeExchangeRequest struct {
	Client       ClientAuth
	Code         string
	RedirectURI  string
	CodeVerifier string
}

// Token is an issued access token (RFC 6749 §5.1), with a refresh token
// when the client may refresh.
type Token struct {
	AccessToken  string
	TokenType    string // "Bearer"
	ExpiresIn    time.Duration
	RefreshToken string
	Scope        Scope
}

// Scope is a set of scope tokens.
type Scope = domain.Scope

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	HintAccessToken  = app.HintAccessToken
	HintRefreshToken = app.HintRefreshToken
)

// IntrospectRequest asks what the server knows of a token (RFC 7662 §2.1).
// The client must authenticate with a secret.
type IntrospectRequest struct {
	Client        ClientAuth
	Token         string
	TokenTypeHint string // HintAccessToken, HintRefreshToken or empty
}

// Introspection is an RFC 7662 §2.2 answer. Anything not active, or not
// the caller's to see, is Active false and nothing else.
type Introspection struct {
	Active    bool
	Scope     Scope
	ClientID  string
	TokenType string // "Bearer" for access tokens, empty for refresh tokens
	ExpiresAt time.Time
	IssuedAt  time.Time
	Subject   string
	Audience  []string
	Issuer    string
	JWTID     string
}

// RevokeRequest revokes a token (RFC 7009 §2.1). An unknown, expired or
// already revoked token is no error.
type RevokeRequest struct {
	Client        ClientAuth
	Token         string
	TokenTypeHint string
}

// tokenAPI holds the use cases the endpoints call, for the methods below.
type tokenAPI struct {
	clients      app.ClientFinder
	auth         *app.ClientAuthenticator
	tokens       *app.TokenEndpoint
	introspector *app.Introspector
	revoker      *app.Revoker
	limits       *httpapi.RateLimits
}

// PasswordToken issues tokens with the password grant, for a client
// allowed it.
func (srv *Server) PasswordToken(ctx context.Context, req PasswordRequest) (Token, error) {
	return srv.tokens.exchange(ctx, req.Client, req.Scope, app.TokenRequest{
		GrantType: string(domain.GrantPassword), Username: req.Username, Password: req.Password,
		Source: httpserver.SourceKey(req.Client.Addr),
	})
}

// ClientCredentialsToken issues a token with the client credentials grant.
func (srv *Server) ClientCredentialsToken(ctx context.Context, req ClientCredentialsRequest) (Token, error) {
	return srv.tokens.exchange(ctx, req.Client, req.Scope, app.TokenRequest{GrantType: string(domain.GrantClientCredentials)})
}

// Refresh rotates a refresh token. Of concurrent uses of one token exactly
// one succeeds; presenting a spent one revokes its whole family.
func (srv *Server) Refresh(ctx context.Context, req RefreshRequest) (Token, error) {
	return srv.tokens.exchange(ctx, req.Client, req.Scope, app.TokenRequest{
		GrantType: string(domain.GrantRefreshToken), RefreshToken: req.RefreshToken,
	})
}

// ExchangeCode redeems an authorization code, once.
func (srv *Server) ExchangeCode(ctx context.Context, req CodeExchangeRequest) (Token, error) {
	return srv.tokens.exchange(ctx, req.Client, "", app.TokenRequest{
		GrantType: string(domain.GrantAuthorizationCode), Code: req.Code, RedirectURI: req.RedirectURI, CodeVerifier: req.CodeVerifier,
	})
}

// Introspect tells the client what the server knows of a token: a client
// allowed to introspect (a resource server) learns of any access token,
// any other client only of its own tokens.
func (srv *Server) Introspect(ctx context.Context, req IntrospectRequest) (Introspection, error) {
	t := srv.tokens
	if req.Client.Secret == "" {
		// RFC 7662 §2.1, as at the endpoint: the caller must prove itself.
		return Introspection{}, domain.Errorf(domain.InvalidClient, "introspection requires client authentication")
	}
	caller, err := t.authenticate(ctx, req.Client)
	if err != nil {
		return Introspection{}, err
	}
	res, err := t.introspector.Introspect(ctx, caller, req.Token, req.TokenTypeHint)
	if err != nil {
		return Introspection{}, err
	}
	return introspectionOf(res), nil
}

// Revoke revokes a token of the client's: an access token at once, a
// refresh token with its family and the access tokens it issued.
func (srv *Server) Revoke(ctx context.Context, req RevokeRequest) error {
	t := srv.tokens
	caller, err := t.authenticate(ctx, req.Client)
	if err != nil {
		return err
	}
	return t.revoker.Revoke(ctx, caller, req.Token, req.TokenTypeHint)
}

func (t *tokenAPI) exchange(ctx context.Context, c ClientAuth, scope string, req app.TokenRequest) (Token, error) {
	client, err := t.authenticate(ctx, c)
	if err != nil {
		return Token{}, err
	}
	if req.Scope, err = domain.ParseScope(scope); err != nil {
		return Token{}, err
	}
	resp, err := t.tokens.Exchange(ctx, client, req)
	if err != nil {
		return Token{}, err
	}
	return Token{
		AccessToken: resp.AccessToken, TokenType: resp.TokenType, ExpiresIn: time.Duration(resp.ExpiresIn) * time.Second,
		RefreshToken: resp.RefreshToken, Scope: resp.Scope,
	}, nil
}

// authenticate authenticates the client as the endpoints do, then spends
// one request of its budget.
func (t *tokenAPI) authenticate(ctx context.Context, c ClientAuth) (domain.Client, error) {
	cred := app.ClientCredentials{ID: c.ID, Secret: c.Secret, Method: domain.AuthNone, Source: httpserver.SourceKey(c.Addr)}
	if c.Secret != "" {
		cred.Method = t.secretMethod(ctx, c.ID)
	}
	client, err := t.auth.Authenticate(ctx, cred)
	if err != nil {
		return domain.Client{}, err
	}
	if d, ok := t.limits.SpendClient(ctx, client); ok && !d.Allowed {
		return domain.Client{}, &RateLimitError{RetryAfter: d.RetryAfter}
	}
	return client, nil
}

// secretMethod is the secret method the client is registered for: at the
// endpoints the wire says which one a request uses, here the registration
// does. Anything unknown gets basic, and the authentication fails as the
// endpoints fail it.
func (t *tokenAPI) secretMethod(ctx context.Context, id string) domain.AuthMethod {
	if id == "" || len(id) > app.MaxClientIDBytes {
		return domain.ClientSecretBasic
	}
	c, err := t.clients.FindClient(ctx, id)
	if err == nil && !c.AllowsAuthMethod(domain.ClientSecretBasic) && c.AllowsAuthMethod(domain.ClientSecretPost) {
		return domain.ClientSecretPost
	}
	return domain.ClientSecretBasic
}

// introspectionOf is the answer the endpoint sends, as a Go value.
func introspectionOf(res app.Introspection) Introspection {
	switch {
	case !res.Active:
		return Introspection{}
	case res.Access != nil:
		a := res.Access
		return Introspection{
			Active: true, Scope: a.Scope, ClientID: a.ClientID, TokenType: "Bearer", ExpiresAt: a.ExpiresAt, IssuedAt: a.IssuedAt,
			Subject: a.Subject, Audience: a.Audience, Issuer: a.Issuer, JWTID: a.ID,
		}
	case res.Refresh != nil:
		r := res.Refresh
		sub := r.UserID
		if sub == "" {
			sub = r.ClientID
		}
		return Introspection{Active: true, Scope: r.Scope, ClientID: r.ClientID, ExpiresAt: r.ExpiresAt, IssuedAt: r.IssuedAt, Subject: sub}
	}
	return Introspection{}
}

// Errors of the programmatic API. Protocol errors are *Error values with
// the RFC 6749 §5.2 (or RFC 7009, RFC 7662) code; errors.Is matches them
// by code alone, errors.As gives the code and description:
//
//	if errors.Is(err, authserver.ErrInvalidGrant) { ... }
//	var e *authserver.Error
//	if errors.As(err, &e) { log.Print(e.Code, e.Description) }
type (
	// Error is a protocol error: the code a client can act on and a
	// description for the developer.
	Error = domain.Error
	// ErrorCode is an OAuth 2.0 error code.
	ErrorCode = domain.ErrorCode
	// Throttled refuses an attempt after too many failed ones (a wrong
	// password or client secret) until RetryAfter; it also matches the
	// *Error it is answered with (invalid_grant, invalid_client).
	Throttled = domain.Throttled
)

// The protocol errors, to match with errors.Is.
var (
	ErrInvalidRequest       = &Error{Code: domain.InvalidRequest}
	ErrInvalidClient        = &Error{Code: domain.InvalidClient}
	ErrInvalidGrant         = &Error{Code: domain.InvalidGrant}
	ErrUnauthorizedClient   = &Error{Code: domain.UnauthorizedClient}
	ErrUnsupportedGrantType = &Error{Code: domain.UnsupportedGrantType}
	ErrInvalidScope         = &Error{Code: domain.InvalidScope}
	// ErrThrottled matches every *Throttled.
	ErrThrottled = domain.ErrThrottled
	// ErrRateLimited matches every *RateLimitError.
	ErrRateLimited = errors.New("rate limit exceeded")
)

// RateLimitError refuses a call past the client's request budget, which
// the programmatic API and the endpoints spend together; the endpoints
// answer it 429 with Retry-After.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return ErrRateLimited.Error() + "; retry after " + e.RetryAfter.String()
}

// Is makes a *RateLimitError match ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
