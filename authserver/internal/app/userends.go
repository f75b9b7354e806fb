package app

import (
	"context"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// userEnds takes down everything a user holds: every session, every grant
// (consent) and refresh token, and every access token and outstanding
// code, which a revocation mark on the user covers (userKey). A password
// change and a closed account both end with it.
type userEnds struct {
	sessions    SessionStore
	consents    ConsentStore
	refresh     UserRevoker
	revocations RevocationStore
	maxTTL      time.Duration
}

// userKey is the revocation id of everything issued to a user: their
// access tokens (by "sub") and their authorization codes.
func userKey(userID string) string { return "user:" + userID }

// end revokes the user's refresh token families authorized at or before
// grantsAt, marks their access tokens and codes issued at or before
// tokensAt, and ends their sessions and grants. Every step may be run
// again: a call that failed half way is completed by the next. The mark is
// kept until the last token it covers has expired: tokensAt plus the
// longest access token or code lifetime.
func (e userEnds) end(ctx context.Context, userID string, grantsAt, tokensAt time.Time) error {
	if err := e.refresh.RevokeUserTokens(ctx, userID, grantsAt); err != nil {
		return err
	}
	if err := e.revocations.Revoke(ctx, userKey(userID), tokensAt, revokeFor(tokensAt, max(e.maxTTL, domain.MaxCodeTTL))); err != nil {
		return err
	}
	if err := e.sessions.DeleteUserSessions(ctx, userID); err != nil {
		return err
	}
	consents, err := e.consents.ListConsents(ctx, userID)
	if err != nil {
		return err
	}
	for _, c := range consents {
		if err := e.consents.DeleteConsent(ctx, userID, c.ClientID); err != nil {
			return err
		}
	}
	return nil
}
