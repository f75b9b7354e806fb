package app

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// UserFinder finds users by their login name.
type UserFinder interface {
	// FindUserByUsername returns the user whose login name is username, or
	// domain.ErrNotFound.
	FindUserByUsername(ctx context.Context, username string) (domain.User, error)
}

// FailureLimiter counts failed attempts per key and says when a key has
// failed too often to be let try again for now.
type FailureLimiter interface {
	// Blocked reports whether key has failed too often in the current window to
	// be let try again.
	Blocked(ctx context.Context, key string) (bool, error)
	// Failed counts one more failed attempt for key.
	Failed(ctx context.Context, key string) error
}

// PasswordGrant is RFC 6749 §4.3, the resource owner password credentials
// grant, for first-party clients that are explicitly allowed it. §4.3.2 makes
// brute-force protection a MUST, hence the limiter, per account. Not per IP:
// requests arrive from the client's server, so every user of a first-party
// app shares one address, and a per-IP limit would let one person lock them
// all out. Per-IP limits belong to the login page, where the IP is the user's.
type PasswordGrant struct {
	creds  credentialChecker
	minter *Minter
}

// NewPasswordGrant returns the grant. decoyHash must be a hash in the same
// scheme and cost as real password hashes.
func NewPasswordGrant(users UserFinder, passwords SecretVerifier, limiter FailureLimiter, m *Minter, decoyHash string) *PasswordGrant {
	return &PasswordGrant{creds: credentialChecker{users: users, passwords: passwords, limiter: limiter, decoyHash: decoyHash}, minter: m}
}

// Type returns password, the grant_type this grant handles.
func (g *PasswordGrant) Type() domain.GrantType { return domain.GrantPassword }

// Exchange checks the user's name and password, under the per-account failure
// limit, and issues an access token, with a refresh token if c may refresh.
func (g *PasswordGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.Username == "" || req.Password == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "username and password are required")
	}
	scope, err := c.GrantScope(req.Scope)
	if err != nil {
		return TokenResponse{}, err
	}
	user, err := g.creds.check(ctx, req.Username, req.Password, "user:"+req.Username)
	if err != nil {
		return TokenResponse{}, err
	}
	return g.minter.Mint(ctx, Issuance{
		Client:  c,
		UserID:  user.ID,
		Scope:   scope,
		Refresh: c.AllowsGrant(domain.GrantRefreshToken),
	})
}
