package app

import (
	"context"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The stores the browser flows need. Each is small and declared here, next
// to the use cases; one backend type may implement several.

// SessionStore keeps signed-in browser sessions, by token hash.
type SessionStore interface {
	// CreateSession stores s under its hash, replacing any session stored
	// there.
	CreateSession(ctx context.Context, s domain.Session) error
	// FindSession returns the session stored under hash, expired or not (the
	// caller judges Active), or domain.ErrNotFound.
	FindSession(ctx context.Context, hash string) (domain.Session, error)
	// DeleteSession deletes the session stored under hash; deleting one that is
	// not there is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// ListUserSessions returns the user's sessions that are active by the
	// store's clock, oldest first (by CreatedAt, then Hash).
	ListUserSessions(ctx context.Context, userID string) ([]domain.Session, error)
	// DeleteUserSessions deletes every active session of the user; one
	// that has expired may stay until the store reclaims it (it is never
	// active again). A user without any is not an error.
	DeleteUserSessions(ctx context.Context, userID string) error
	// ExtendSession sets the expiry of the session stored under hash, in
	// one atomic step that finds it still there and active by the store's
	// clock; else domain.ErrNotFound, and nothing is written: a session
	// ended meanwhile stays ended.
	ExtendSession(ctx context.Context, hash string, expiresAt time.Time) error
}

// CodeStore keeps authorization codes, by hash, and runs their two-phase
// redemption (see domain.AuthorizationCode). Each method is one atomic step,
// and sending it twice does no more than sending it once. A claim or a
// used-settlement that reaches the backend after the caller's context
// deadline has no effect: a call that timed out (a paused Redis runs it
// when it wakes) cannot claim or use the code behind the caller's back.
type CodeStore interface {
	// CreateCode stores a new authorization code under its hash;
	// domain.ErrConflict if the hash is taken.
	CreateCode(ctx context.Context, c domain.AuthorizationCode) error
	// FindCode returns the code, whatever its redemption state, and
	// changes nothing; ErrNotFound if there is no such code.
	FindCode(ctx context.Context, hash string) (domain.AuthorizationCode, error)
	// ClaimCode claims the code for attempt until the given time if it is
	// Claimable, and returns the code as it was before and whether the
	// claim was granted: of concurrent claims by different attempts,
	// exactly one is. ErrNotFound if there is no such code.
	ClaimCode(ctx context.Context, hash, attempt string, until time.Time) (domain.AuthorizationCode, bool, error)
	// SettleCode ends attempt's claim. With used, the code becomes Used;
	// ErrClaimLost if attempt no longer holds it or it was replayed
	// meanwhile. Without, the code is free again (a no-op if attempt does
	// not hold it).
	SettleCode(ctx context.Context, hash, attempt string, used bool) error
	// MarkCodeReplayed marks the code Replayed: it is never claimable
	// again, and its holder's settlement fails. A missing code is fine.
	MarkCodeReplayed(ctx context.Context, hash string) error
}

// ConsentStore keeps what each user let each client have.
type ConsentStore interface {
	// FindConsent returns the user's consent to the client, or
	// domain.ErrNotFound.
	FindConsent(ctx context.Context, userID, clientID string) (domain.Consent, error)
	// SaveConsent creates or replaces the user's consent to the client.
	SaveConsent(ctx context.Context, c domain.Consent) error
	// ListConsents returns the user's consents, ordered by client id.
	ListConsents(ctx context.Context, userID string) ([]domain.Consent, error)
	// DeleteConsent deletes the user's consent to the client; deleting one that
	// is not there is not an error.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// UserClientRevoker revokes a user's grant to a client at the refresh
// token store: every family the client holds for the user, and, in the same
// atomic step, every family authorized at or before at that is created
// later (an exchange of an older code still under way).
type UserClientRevoker interface {
	// RevokeUserClientTokens revokes the user's grant to the client as of at.
	RevokeUserClientTokens(ctx context.Context, userID, clientID string, at time.Time) error
}

// UserRevoker revokes everything a user granted, at the refresh token
// store: every family of every client, and, in the same atomic step, every
// family authorized at or before at that is created later (an exchange of
// an older code, or a password grant checked before the password changed,
// still under way).
type UserRevoker interface {
	// RevokeUserTokens revokes the user's grants to every client as of at.
	RevokeUserTokens(ctx context.Context, userID string, at time.Time) error
}

// revokeFor is how long a revocation mark must last: until every token it
// covers has expired.
func revokeFor(now time.Time, accessTTL time.Duration) time.Time {
	return now.Add(accessTTL + time.Second)
}

// AuditLog records security events. Recording must not fail a request that
// already happened, so callers log a failure to record and go on.
type AuditLog interface {
	// Record appends e to the audit trail.
	Record(ctx context.Context, e domain.AuditEvent) error
}
