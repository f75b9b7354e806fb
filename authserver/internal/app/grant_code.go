package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// AuthorizationCodeGrant is RFC 6749 §4.1.3 with RFC 7636: a code is
// redeemed once, by the client it was issued to, with the redirect_uri and
// PKCE verifier of its authorization request.
//
// Redemption has two phases (see domain.AuthorizationCode). The exchange
// claims the code, stores and signs the tokens, and only then settles the
// code as used; if storing fails, the claim is released and the client's
// retry can still succeed. A second valid presentation, while the claim is
// held or after the code is used, is a replay: the family the code grows
// into is revoked before or after it exists, so whatever the first exchange
// issues does not survive, however the two interleave.
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

// CodeClaimTTL is how long an exchange may hold a code. An exchange takes a
// few storage round trips; one that died mid-way (a crash) frees the code
// when its claim lapses, and a presentation before that counts as a replay.
const CodeClaimTTL = 10 * time.Second

var errBadCode = domain.Errorf(domain.InvalidGrant, "authorization code is invalid, expired or already used")

// Exchange redeems the code in req for an access token, and a refresh token if
// c may refresh. The code must be unexpired, c's, and presented with its
// request's redirect_uri and PKCE verifier; a code redeemed twice is refused
// and revokes everything issued from it (RFC 6749 §4.1.2).
func (g *AuthorizationCodeGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.Code == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "code is required")
	}
	hash := HashToken(req.Code)
	// The issuance time comes before every check (see Issuance.At).
	at := g.now()
	// A presentation the code would refuse anyway changes nothing: another
	// client holding the code, or a wrong verifier, must not be able to
	// burn it or revoke what it produced. So it is checked before the
	// code is claimed, and claims nothing: a claim held by a refused
	// presentation, however briefly, would make the owner's exchange at
	// that moment look like a replay.
	found, err := g.codes.FindCode(ctx, hash)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenResponse{}, errBadCode
	case err != nil:
		return TokenResponse{}, err
	}
	if err := g.check(ctx, c, found, req, at); err != nil {
		return TokenResponse{}, err
	}
	attempt := newID()
	code, claimed, err := g.codes.ClaimCode(ctx, hash, attempt, at.Add(CodeClaimTTL))
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenResponse{}, errBadCode
	case err != nil:
		return TokenResponse{}, g.unavailable(err, hash, attempt)
	}
	if !claimed {
		// §4.1.2: a code used twice was stolen, or replayed.
		return TokenResponse{}, g.replayed(ctx, code)
	}
	resp, err := g.minter.Mint(ctx, Issuance{
		Client:   c,
		UserID:   code.UserID,
		Scope:    code.Scope,
		Refresh:  c.AllowsGrant(domain.GrantRefreshToken),
		FamilyID: code.FamilyID,
		AuthTime: code.IssuedAt,
		At:       at,
		SignIn:   code.SignIn,
		Nonce:    code.Nonce,
	})
	switch {
	case errors.Is(err, domain.ErrRevoked):
		// The family was revoked under the exchange (a replay, or the user
		// revoking the grant): no retry can undo that.
		_ = g.release(hash, attempt)
		return TokenResponse{}, errBadCode
	case err != nil:
		// Nothing was handed out: the code stays usable for a retry.
		return TokenResponse{}, g.unavailable(err, hash, attempt)
	}
	err = g.codes.SettleCode(ctx, hash, attempt, true)
	if err != nil && !errors.Is(err, domain.ErrClaimLost) {
		// The settlement may have been applied with its answer lost; sent
		// again by the same attempt it is harmless, and says which.
		err = g.settleAgain(hash, attempt)
	}
	switch {
	case errors.Is(err, domain.ErrClaimLost):
		// Presented again meanwhile, or our claim lapsed and another
		// exchange took it over: either way the code was used twice.
		return TokenResponse{}, g.replayed(ctx, code)
	case err != nil:
		// The tokens were never handed out.
		return TokenResponse{}, g.unavailable(err, hash, attempt)
	}
	return resp, nil
}

// check applies the rules a presentation must pass whatever the code's
// redemption state. A user's grant revoked after the code was issued
// invalidates it too.
func (g *AuthorizationCodeGrant) check(ctx context.Context, c domain.Client, code domain.AuthorizationCode, req TokenRequest, now time.Time) error {
	switch {
	case !now.Before(code.ExpiresAt):
		return errBadCode
	case code.ClientID != c.ID:
		return errBadCode
	case code.RedirectURI != req.RedirectURI:
		return domain.Errorf(domain.InvalidGrant, "redirect_uri does not match the authorization request")
	case code.Challenge == "" && req.CodeVerifier != "":
		// RFC 9700 §2.1.1: a verifier for a code issued without a challenge
		// is a PKCE downgrade attempt.
		return domain.Errorf(domain.InvalidGrant, "code_verifier sent for a code issued without code_challenge")
	case code.Challenge != "" && !verifyPKCE(code, req.CodeVerifier):
		return domain.Errorf(domain.InvalidGrant, "code_verifier does not match the code_challenge")
	}
	revoked, err := g.revocations.Revoked(ctx, code.IssuedAt, consentKey(code.UserID, code.ClientID), userKey(code.UserID), clientKey(code.ClientID))
	if err != nil {
		return err
	}
	if revoked {
		return errBadCode
	}
	return nil
}

// replayed takes down everything the code produced or is about to produce:
// the code can no longer be settled, its family is revoked (created revoked
// if the first exchange has not stored it yet), and its access tokens,
// which live up to the longest lifetime, are marked.
func (g *AuthorizationCodeGrant) replayed(ctx context.Context, code domain.AuthorizationCode) error {
	if err := g.codes.MarkCodeReplayed(ctx, code.Hash); err != nil {
		return err
	}
	if err := revokeFamily(ctx, g.refresh, g.revocations, code.FamilyID, g.minter.policy.MaxAccessTTL, g.now); err != nil {
		return err
	}
	return errBadCode
}

// unavailable answers an outage met mid-exchange. If this attempt's claim
// is known to be gone (released now), the client may retry at once; if it
// may still be held, a retry before it lapses would look like a replay, so
// the client is told to wait that long.
func (g *AuthorizationCodeGrant) unavailable(err error, hash, attempt string) error {
	if g.release(hash, attempt) == nil {
		return err
	}
	return domain.RetryAfter(err, CodeClaimTTL)
}

// release gives the claim back, on its own short bound: it runs after a
// failure, often because the request's context has ended, and a claim that
// cannot be released lapses by itself.
func (g *AuthorizationCodeGrant) release(hash, attempt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return g.codes.SettleCode(ctx, hash, attempt, false)
}

func (g *AuthorizationCodeGrant) settleAgain(hash, attempt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return g.codes.SettleCode(ctx, hash, attempt, true)
}
