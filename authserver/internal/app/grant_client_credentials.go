package app

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// ClientCredentialsGrant is RFC 6749 §4.4: a confidential client gets a token
// for itself. No refresh token: the client can simply ask again (§4.4.3).
type ClientCredentialsGrant struct {
	minter *Minter
}

// NewClientCredentialsGrant returns the grant.
func NewClientCredentialsGrant(m *Minter) *ClientCredentialsGrant {
	return &ClientCredentialsGrant{minter: m}
}

// Type returns client_credentials, the grant_type this grant handles.
func (g *ClientCredentialsGrant) Type() domain.GrantType { return domain.GrantClientCredentials }

// Exchange issues an access token to the confidential client c itself, for the
// scope it asked for within what it is allowed.
func (g *ClientCredentialsGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if c.Type != domain.Confidential {
		return TokenResponse{}, domain.Errorf(domain.UnauthorizedClient, "client_credentials is for confidential clients")
	}
	scope, err := c.GrantScope(req.Scope)
	if err != nil {
		return TokenResponse{}, err
	}
	return g.minter.Mint(ctx, Issuance{Client: c, Scope: scope})
}
