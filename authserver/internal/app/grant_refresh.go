package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RefreshTokenStore keeps refresh tokens and their families.
type RefreshTokenStore interface {
	CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error
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

// RevocationStore remembers revoked access tokens (by jti) and revoked grants
// (by family id) until the last token they cover has expired.
type RevocationStore interface {
	Revoke(ctx context.Context, id string, until time.Time) error
	// AnyRevoked reports whether any of the ids is revoked; empty ids are
	// ignored. One call, so a remote store answers in one round trip.
	AnyRevoked(ctx context.Context, ids ...string) (bool, error)
}

// Revocation ids live in one namespace; the prefixes keep a jti and a family
// id from ever colliding.
func jtiKey(jti string) string { return "jti:" + jti }
func grantKey(id string) string {
	if id == "" {
		return ""
	}
	return "grant:" + id
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

func (g *RefreshGrant) Type() domain.GrantType { return domain.GrantRefreshToken }

var errBadRefresh = domain.Errorf(domain.InvalidGrant, "refresh token is invalid, expired or revoked")

// errReused is rotate's signal that the token was already rotated.
var errReused = errors.New("refresh token reused")

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
	return revocations.Revoke(ctx, grantKey(t.FamilyID), now.Add(t.AccessTTL+time.Second))
}
