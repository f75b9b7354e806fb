package app

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// TokenRequest is a token endpoint request (RFC 6749 §4 and §6), parsed at
// the edge. Each grant reads the fields it defines.
type TokenRequest struct {
	GrantType string
	Scope     domain.Scope // empty when the request named none
	// password grant
	Username string
	Password string
	// Source is where the request comes from, for the password grant's
	// limits: the key of the client address (pkg/httpserver.SourceKey).
	Source string
	// refresh_token grant
	RefreshToken string
	// authorization_code grant
	Code         string
	RedirectURI  string
	CodeVerifier string
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string
	TokenType    string
	ExpiresIn    int64
	RefreshToken string
	Scope        domain.Scope
	// IDToken is the OpenID Connect ID token, "" unless the grant is an
	// OpenID Connect one.
	IDToken string
	// UserID is the resource owner, if any; for logs, never sent.
	UserID string
}

// Grant is one grant type's token issuance. The token endpoint knows grants
// only through this contract, so adding a grant adds a type, not a branch.
type Grant interface {
	// Type is the grant_type value the grant handles.
	Type() domain.GrantType
	// Exchange issues tokens for an authenticated client that is allowed
	// the grant.
	Exchange(ctx context.Context, client domain.Client, req TokenRequest) (TokenResponse, error)
}

// TokenEndpoint dispatches token requests to the configured grants, and
// audits every issue and refusal.
type TokenEndpoint struct {
	grants []Grant
	audit  auditor
}

// NewTokenEndpoint returns an endpoint serving the given grants. audit may
// be nil.
func NewTokenEndpoint(audit AuditLog, now Clock, grants ...Grant) *TokenEndpoint {
	return &TokenEndpoint{grants: grants, audit: auditor{log: audit, now: now}}
}

// GrantTypes lists the grant types served, for the metadata document.
func (e *TokenEndpoint) GrantTypes() []domain.GrantType {
	out := make([]domain.GrantType, len(e.grants))
	for i, g := range e.grants {
		out[i] = g.Type()
	}
	return out
}

// Exchange issues tokens for req on behalf of an authenticated client.
func (e *TokenEndpoint) Exchange(ctx context.Context, client domain.Client, req TokenRequest) (TokenResponse, error) {
	resp, err := e.exchange(ctx, client, req)
	ev := domain.AuditEvent{Type: domain.AuditTokenIssued, ClientID: client.ID, UserID: resp.UserID}
	if err != nil {
		ev.Type = domain.AuditTokenRefused
	}
	e.audit.record(ctx, outcome(ev, err, req.GrantType))
	return resp, err
}

func (e *TokenEndpoint) exchange(ctx context.Context, client domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.GrantType == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "grant_type is required")
	}
	for _, g := range e.grants {
		if string(g.Type()) != req.GrantType {
			continue
		}
		if !client.AllowsGrant(g.Type()) {
			return TokenResponse{}, domain.Errorf(domain.UnauthorizedClient, "this client may not use the %s grant", req.GrantType)
		}
		return g.Exchange(ctx, client, req)
	}
	return TokenResponse{}, domain.Errorf(domain.UnsupportedGrantType, "grant_type %q is not supported", req.GrantType)
}
