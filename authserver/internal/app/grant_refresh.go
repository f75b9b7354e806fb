package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RefreshTokenStore keeps refresh tokens and their families. A family is
// what one authorization grew into: revoking it revokes every token in it,
// those that exist and those an exchange still under way is about to add.
type RefreshTokenStore interface {
	// CreateRefreshToken stores t, creating its family if it is new.
	// ErrRevoked, and nothing stored, if the family is revoked or the
	// user's grant to the client was revoked at or after t.AuthTime; the
	// check and the write are one atomic step, so a revocation either
	// sees the token or refuses it.
	CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error
	// FindRefreshToken returns the token stored under hash, with Status
	// RefreshRevoked if its family is revoked. ErrNotFound if there is none.
	FindRefreshToken(ctx context.Context, hash string) (domain.RefreshToken, error)
	// RotateRefreshToken runs rotate on the token stored under hash (as
	// FindRefreshToken returns it), as one atomic step that also holds its
	// family against revocation (rotate runs under that hold, so it builds
	// a record and signs, nothing slower): if rotate returns a token, the old one
	// becomes rotated and the new one is stored; if it returns an error,
	// nothing changes. Two concurrent calls for one hash see each other's
	// outcome, never the same state, and a family revocation is ordered
	// entirely before or after. ErrNotFound if there is no such token.
	RotateRefreshToken(ctx context.Context, hash string, rotate func(cur domain.RefreshToken) (domain.RefreshToken, error)) error
	// RevokeFamily revokes a family, present and future: a family that
	// does not exist yet is created revoked.
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

// clientKey is the revocation id of everything issued to a client: its
// access tokens and codes, when the client is deleted.
func clientKey(clientID string) string { return "client:" + clientID }

// revocationIDs lists every id under which t may have been revoked. A
// token whose subject is its client (client_credentials, RFC 9068 §2.2)
// has no user to be revoked with.
func revocationIDs(t domain.AccessToken) []string {
	user := ""
	if t.Subject != t.ClientID {
		user = userKey(t.Subject)
	}
	return []string{jtiKey(t.ID), grantKey(t.GrantID), consentKey(t.Subject, t.ClientID), user, clientKey(t.ClientID)}
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
		prev domain.RefreshToken
		resp TokenResponse
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
		// The issuance time is taken while the family is held: a
		// revocation ordered after this rotation is stamped later, so it
		// covers the access token minted from it (see Issuance.At).
		at := g.now()
		if !cur.Usable(at) {
			return domain.RefreshToken{}, errBadRefresh
		}
		scope := cur.Scope
		if len(req.Scope) > 0 {
			// §6: the new scope may narrow the original, never widen it.
			if !cur.Scope.Covers(req.Scope) {
				return domain.RefreshToken{}, domain.Errorf(domain.InvalidScope, "scope may only narrow the original grant's scope")
			}
			scope = req.Scope
		}
		// The access token is signed before the rotation commits: if
		// signing fails (a replica whose keys are stale), nothing changes
		// and the client retries with the same refresh token, instead of
		// holding a spent one it never got a successor for.
		var err error
		if resp, err = g.minter.access(ctx, c, cur.UserID, scope, cur.FamilyID, at); err != nil {
			return domain.RefreshToken{}, err
		}
		// An OpenID Connect family gets a new ID token of the same sign-in:
		// same sub and auth_time, no nonce (OpenID Connect Core §12.2).
		if resp.IDToken, err = g.minter.idToken(ctx, c, cur.UserID, scope, cur.SignIn, "", resp.AccessToken, at); err != nil {
			return domain.RefreshToken{}, err
		}
		plain, next := g.minter.newRefreshToken(c, cur.UserID, scope, cur.FamilyID, at, cur.AuthTime)
		next.SignIn = cur.SignIn
		// The family keeps its original scope: a narrowed token may later be
		// exchanged for the broader scope again, as RFC 6749 §6 allows.
		next.Scope = cur.Scope
		resp.RefreshToken = plain
		return next, nil
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenResponse{}, errBadRefresh
	case errors.Is(err, errReused):
		if err := revokeFamily(ctx, g.store, g.revocations, prev.FamilyID, prev.AccessTTL, g.now); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, errBadRefresh
	case err != nil:
		return TokenResponse{}, err
	}
	return resp, nil
}

// revokeFamily revokes a family's refresh tokens and, through its grant id,
// every access token it issued that may still be alive (living up to
// accessTTL). The mark is stamped after the family is revoked: a rotation
// that was under way finished before that, so the access token it mints
// was issued before the mark and is covered.
func revokeFamily(ctx context.Context, store RefreshTokenStore, revocations RevocationStore, familyID string, accessTTL time.Duration, now Clock) error {
	if err := store.RevokeFamily(ctx, familyID); err != nil {
		return err
	}
	at := now()
	return revocations.Revoke(ctx, grantKey(familyID), at, revokeFor(at, accessTTL))
}
