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
}

// CodeStore keeps authorization codes, by hash.
type CodeStore interface {
	// CreateCode stores a new authorization code under its hash;
	// domain.ErrConflict if the hash is taken.
	CreateCode(ctx context.Context, c domain.AuthorizationCode) error
	// RedeemCode marks the code redeemed and returns it as it was before,
	// in one atomic step: of two concurrent calls for one code, exactly one
	// sees Redeemed false. ErrNotFound if there is no such code.
	RedeemCode(ctx context.Context, hash string) (domain.AuthorizationCode, error)
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

// UserClientRevoker revokes every refresh token a client holds for a user,
// whatever its family.
type UserClientRevoker interface {
	// RevokeUserClientTokens marks every refresh token clientID holds for
	// userID revoked.
	RevokeUserClientTokens(ctx context.Context, userID, clientID string) error
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
