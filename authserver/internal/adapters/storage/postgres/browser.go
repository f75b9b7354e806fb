package postgres

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Sessions.

// CreateSession stores sess, replacing any session with its hash.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET user_id = EXCLUDED.user_id,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		sess.Hash, sess.UserID, sess.CreatedAt, sess.ExpiresAt)
	return err
}

// FindSession returns the session stored under hash, expired or not, as the
// memory store does; the caller judges Active.
func (s *Store) FindSession(ctx context.Context, hash string) (domain.Session, error) {
	return queryOne(ctx, s, func(r row) (domain.Session, error) {
		var sess domain.Session
		if err := r.Scan(&sess.Hash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt); err != nil {
			return domain.Session{}, err
		}
		sess.CreatedAt, sess.ExpiresAt = utc(sess.CreatedAt), utc(sess.ExpiresAt)
		return sess, nil
	}, `SELECT hash, user_id, created_at, expires_at FROM sessions WHERE hash = $1`, hash)
}

// DeleteSession deletes a session; deleting one that is not there is fine.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

// Authorization codes.

const codeColumns = `hash, client_id, user_id, redirect_uri, scope, challenge, challenge_method,
	family_id, issued_at, expires_at, redeemed`

func scanCode(r row) (domain.AuthorizationCode, error) {
	var (
		c     domain.AuthorizationCode
		scope []string
	)
	err := r.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &scope, &c.Challenge, &c.ChallengeMethod,
		&c.FamilyID, &c.IssuedAt, &c.ExpiresAt, &c.Redeemed)
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	c.Scope = domain.NewScope(scope...)
	c.IssuedAt, c.ExpiresAt = utc(c.IssuedAt), utc(c.ExpiresAt)
	return c, nil
}

// CreateCode stores c; domain.ErrConflict if its hash is taken.
func (s *Store) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	_, err := s.exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, strs(domain.NewScope(c.Scope...)), c.Challenge, c.ChallengeMethod,
		c.FamilyID, c.IssuedAt, c.ExpiresAt, c.Redeemed)
	return err
}

// RedeemCode marks the code redeemed and returns the row as it was before,
// in one statement. The CTE locks the row (FOR UPDATE) before reading it: a
// concurrent redemption waits for the lock and then reads the committed,
// redeemed row, so exactly one caller sees Redeemed false. (A plain
// self-join would read the old row from its snapshot, and both would.)
func (s *Store) RedeemCode(ctx context.Context, hash string) (domain.AuthorizationCode, error) {
	return queryOne(ctx, s, scanCode, `WITH before AS (
			SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 FOR UPDATE
		)
		UPDATE auth_codes AS c SET redeemed = true FROM before WHERE c.hash = before.hash
		RETURNING before.hash, before.client_id, before.user_id, before.redirect_uri, before.scope,
			before.challenge, before.challenge_method, before.family_id, before.issued_at,
			before.expires_at, before.redeemed`, hash)
}

// Consents.

const consentColumns = `user_id, client_id, scope, created_at, updated_at`

func scanConsent(r row) (domain.Consent, error) {
	var (
		c     domain.Consent
		scope []string
	)
	if err := r.Scan(&c.UserID, &c.ClientID, &scope, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return domain.Consent{}, err
	}
	c.Scope = domain.NewScope(scope...)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c, nil
}

// FindConsent returns the user's consent to the client, or domain.ErrNotFound.
func (s *Store) FindConsent(ctx context.Context, userID, clientID string) (domain.Consent, error) {
	return queryOne(ctx, s, scanConsent, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

// SaveConsent creates or replaces the user's consent to the client.
func (s *Store) SaveConsent(ctx context.Context, c domain.Consent) error {
	_, err := s.exec(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
		c.UserID, c.ClientID, strs(domain.NewScope(c.Scope...)), c.CreatedAt, c.UpdatedAt)
	return err
}

// ListConsents returns the user's consents, by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]domain.Consent, error) {
	return queryAll(ctx, s, scanConsent, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 ORDER BY client_id`, userID)
}

// DeleteConsent deletes a consent; deleting one that is not there is fine.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	_, err := s.exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	return err
}
