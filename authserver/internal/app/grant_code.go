package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// AuthorizationCodeGrant is RFC 6749 §4.1.3 with RFC 7636: a code is
// redeemed once, by the client it was issued to, with the redirect_uri and
// PKCE verifier of its authorization request.
type AuthorizationCodeGrant struct {
	codes       CodeStore
	refresh     RefreshTokenStore
	revocations RevocationStore
	minter      *Minter
	now         Clock
}

// NewAuthorizationCodeGrant returns the grant.
func NewAuthorizationCodeGrant(codes CodeStore, refresh RefreshTokenStore, revocations RevocationStore, m *Minter, now Clock) *AuthorizationCodeGrant {
	return &AuthorizationCodeGrant{codes: codes, refresh: refresh, revocations: revocations, minter: m, now: now}
}

// Type returns authorization_code, the grant_type this grant handles.
func (g *AuthorizationCodeGrant) Type() domain.GrantType { return domain.GrantAuthorizationCode }

var errBadCode = domain.Errorf(domain.InvalidGrant, "authorization code is invalid, expired or already used")

// Exchange redeems the code in req for an access token, and a refresh token if
// c may refresh. The code must be unexpired, c's, and presented with its
// request's redirect_uri and PKCE verifier; a code redeemed twice is refused
// and revokes everything issued from it (RFC 6749 §4.1.2).
func (g *AuthorizationCodeGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.Code == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "code is required")
	}
	code, err := g.codes.RedeemCode(ctx, HashToken(req.Code))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenResponse{}, errBadCode
	case err != nil:
		return TokenResponse{}, err
	}
	if code.Redeemed {
		// §4.1.2: a code used twice was stolen, or replayed; everything
		// issued from it goes.
		if err := g.revokeIssued(ctx, code); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, errBadCode
	}
	switch {
	case !g.now().Before(code.ExpiresAt):
		return TokenResponse{}, errBadCode
	case code.ClientID != c.ID:
		return TokenResponse{}, errBadCode
	case code.RedirectURI != req.RedirectURI:
		return TokenResponse{}, domain.Errorf(domain.InvalidGrant, "redirect_uri does not match the authorization request")
	case code.Challenge == "" && req.CodeVerifier != "":
		// RFC 9700 §2.1.1: a verifier for a code issued without a challenge
		// is a PKCE downgrade attempt.
		return TokenResponse{}, domain.Errorf(domain.InvalidGrant, "code_verifier sent for a code issued without code_challenge")
	case code.Challenge != "" && !verifyPKCE(code, req.CodeVerifier):
		return TokenResponse{}, domain.Errorf(domain.InvalidGrant, "code_verifier does not match the code_challenge")
	}
	return g.minter.Mint(ctx, Issuance{
		Client:   c,
		UserID:   code.UserID,
		Scope:    code.Scope,
		Refresh:  c.AllowsGrant(domain.GrantRefreshToken),
		FamilyID: code.FamilyID,
	})
}

// revokeIssued revokes the refresh tokens and access tokens of the code's
// family. The access tokens may have lived up to the longest lifetime.
func (g *AuthorizationCodeGrant) revokeIssued(ctx context.Context, code domain.AuthorizationCode) error {
	if err := g.refresh.RevokeFamily(ctx, code.FamilyID); err != nil {
		return err
	}
	now := g.now()
	return g.revocations.Revoke(ctx, grantKey(code.FamilyID), now, revokeFor(now, g.minter.policy.MaxAccessTTL))
}
