package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// UserFinder finds users by their login name.
type UserFinder interface {
	// FindUserByUsername returns the user whose login name is username, or
	// domain.ErrNotFound.
	FindUserByUsername(ctx context.Context, username string) (domain.User, error)
}

// PasswordGrant is RFC 6749 §4.3, the resource owner password credentials
// grant, for first-party clients that are explicitly allowed it. §4.3.2
// makes brute-force protection a MUST, hence the limiter: per account, and
// per account and source. The source is the request's TokenRequest.Source:
// the client's server, unless that server is a trusted proxy forwarding its
// user's address, which a first-party client should do. No per-source limit
// over all accounts: every user of a client that does not forward would
// share it, and one person could slow them all down.
type PasswordGrant struct {
	creds  credentialChecker
	minter *Minter
}

// NewPasswordGrant returns the grant.
func NewPasswordGrant(c Credentials, m *Minter) *PasswordGrant {
	return &PasswordGrant{creds: newCredentialChecker(c), minter: m}
}

// Type returns password, the grant_type this grant handles.
func (g *PasswordGrant) Type() domain.GrantType { return domain.GrantPassword }

// Exchange checks the user's name and password, under the limits, and
// issues an access token, with a refresh token if c may refresh.
func (g *PasswordGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.Username == "" || req.Password == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "username and password are required")
	}
	username, err := g.creds.username(req.Username)
	if err != nil {
		return TokenResponse{}, err
	}
	scope, err := c.GrantScope(req.Scope)
	if err != nil {
		return TokenResponse{}, err
	}
	// The issuance time comes before the password is checked (see
	// Issuance.At): a password change that lands after the check stamps
	// its revocation later, so it covers these tokens.
	at := g.minter.now()
	user, err := g.creds.check(ctx, username, req.Password, passwordKeys(username, req.Source))
	if err != nil {
		return TokenResponse{}, err
	}
	resp, err := g.minter.Mint(ctx, Issuance{
		Client:  c,
		UserID:  user.ID,
		Scope:   scope,
		Refresh: c.AllowsGrant(domain.GrantRefreshToken),
		At:      at,
	})
	if errors.Is(err, domain.ErrRevoked) {
		// The password changed, or the account closed, after the check.
		return TokenResponse{}, errBadCredentials
	}
	return resp, err
}
