package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RefreshTokenStore keeps refresh tokens and their families.
type RefreshTokenStore interface {
	// CreateRefreshToken stores a new refresh token under its hash;
	// domain.ErrConflict if one is already stored there.
	CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error
	// FindRefreshToken returns the token stored under hash, whatever its status
	// or expiry, or domain.ErrNotFound.
	FindRefreshToken(ctx context.Context, hash string) (domain.RefreshToken, error)
	// RotateRefreshToken runs rotate on the token stored under hash, as one
	// atomic step: if rotate returns a token, the old one becomes rotated and
	// the new one is stored; if it returns an error, nothing changes. Two
	// concurrent calls for one hash see each other's outcome, never the same
	// state. ErrNotFound if there is no such token.
	RotateRefreshToken(ctx context.Context, hash string, rotate func(cur domain.RefreshToken) (domain.RefreshToken, error)) error
	// RevokeFamily revokes every token of a family.
	RevokeFamily(ctx context.Context, familyID string) error
}

// RevocationStore remembers revocations of access tokens until the last
// token they cover has expired. An id names what was revoked: one token (its
// jti), a grant (a refresh token family), or a user's consent to a client.
type RevocationStore interface {
	// Revoke revokes every token carrying id that was issued at or before
	// at; the mark is kept until until.
	Revoke(ctx context.Context, id string, at, until time.Time) error
	// Revoked reports whether a token issued at iat and carrying any of ids
	// is revoked; empty ids are ignored. One call, so that a remote store
	// answers in one round trip.
	Revoked(ctx context.Context, iat time.Time, ids ...string) (bool, error)
}

// The revocation ids of a token. The prefixes keep the namespaces apart.
func jtiKey(jti string) string { return "jti:" + jti }
func grantKey(id string) string {
	if id == "" {
		return ""
	}
	return "grant:" + id
}
func consentKey(userID, clientID string) string { return "consent:" + userID + " " + clientID }

// revocationIDs lists every id under which t may have been revoked.
func revocationIDs(t domain.AccessToken) []string {
	return []string{jtiKey(t.ID), grantKey(t.GrantID), consentKey(t.Subject, t.ClientID)}
}

// RefreshGrant is RFC 6749 §6 with rotation: each use returns a new refresh
// token and retires the old one. Presenting a retired token again means one
// of the two copies was stolen, so the whole family is revoked, with the
// access tokens it issued (RFC 9700 §4.14.2).
type RefreshGrant struct {
	store       RefreshTokenStore
	revocations RevocationStore
	minter      *Minter
	now         Clock
}

// NewRefreshGrant returns the grant.
func NewRefreshGrant(store RefreshTokenStore, revocations RevocationStore, m *Minter, now Clock) *RefreshGrant {
	return &RefreshGrant{store: store, revocations: revocations, minter: m, now: now}
}

// Type returns refresh_token, the grant_type this grant handles.
func (g *RefreshGrant) Type() domain.GrantType { return domain.GrantRefreshToken }

var errBadRefresh = domain.Errorf(domain.InvalidGrant, "refresh token is invalid, expired or revoked")

// errReused is rotate's signal that the token was already rotated.
var errReused = errors.New("refresh token reused")

// Exchange rotates the refresh token in req: c gets a new refresh token and an
// access token for the same or a narrower scope, and the old token is spent.
// Presenting a rotated token again is taken as theft and revokes its whole
// family (RFC 9700 §4.14.2).
func (g *RefreshGrant) Exchange(ctx context.Context, c domain.Client, req TokenRequest) (TokenResponse, error) {
	if req.RefreshToken == "" {
		return TokenResponse{}, domain.Errorf(domain.InvalidRequest, "refresh_token is required")
	}
	var (
		plain string
		prev  domain.RefreshToken
		scope domain.Scope
	)
	err := g.store.RotateRefreshToken(ctx, HashToken(req.RefreshToken), func(cur domain.RefreshToken) (domain.RefreshToken, error) {
		prev = cur
		if cur.ClientID != c.ID {
			// §6: the token is bound to the client it was issued to.
			return domain.RefreshToken{}, errBadRefresh
		}
		if cur.Status == domain.RefreshRotated {
			return domain.RefreshToken{}, errReused
		}
		if !cur.Usable(g.now()) {
			return domain.RefreshToken{}, errBadRefresh
		}
		scope = cur.Scope
		if len(req.Scope) > 0 {
			// §6: the new scope may narrow the original, never widen it.
			if !cur.Scope.Covers(req.Scope) {
				return domain.RefreshToken{}, domain.Errorf(domain.InvalidScope, "scope may only narrow the original grant's scope")
			}
			scope = req.Scope
		}
		var next domain.RefreshToken
		plain, next = g.minter.newRefreshToken(c, cur.UserID, scope, cur.FamilyID)
		// The family keeps its original scope: a narrowed token may later be
		// exchanged for the broader scope again, as RFC 6749 §6 allows.
		next.Scope = cur.Scope
		return next, nil
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenResponse{}, errBadRefresh
	case errors.Is(err, errReused):
		if err := g.revokeFamily(ctx, prev); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, errBadRefresh
	case err != nil:
		return TokenResponse{}, err
	}
	resp, err := g.minter.access(ctx, c, prev.UserID, scope, prev.FamilyID)
	resp.RefreshToken = plain
	return resp, err
}

// revokeFamily revokes a family's refresh tokens and, through its grant id,
// every access token it issued that may still be alive.
func (g *RefreshGrant) revokeFamily(ctx context.Context, t domain.RefreshToken) error {
	return revokeFamily(ctx, g.store, g.revocations, t, g.now())
}

func revokeFamily(ctx context.Context, store RefreshTokenStore, revocations RevocationStore, t domain.RefreshToken, now time.Time) error {
	if err := store.RevokeFamily(ctx, t.FamilyID); err != nil {
		return err
	}
	return revocations.Revoke(ctx, grantKey(t.FamilyID), now, revokeFor(now, t.AccessTTL))
}
