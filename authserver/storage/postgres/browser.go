package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Sessions.

// CreateSession stores sess, replacing any session with its hash.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session) error {
	_, err := s.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (hash) DO UPDATE SET user_id = EXCLUDED.user_id, door = EXCLUDED.door,
			source = EXCLUDED.source, user_agent = EXCLUDED.user_agent,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		sess.Hash, sess.UserID, string(sess.Door), sess.Source, sess.UserAgent, sess.CreatedAt, sess.ExpiresAt)
	return err
}

const sessionColumns = `hash, user_id, door, source, user_agent, created_at, expires_at`

// FindSession returns the session stored under hash, expired or not, as the
// memory store does; the caller judges Active.
func (s *Store) FindSession(ctx context.Context, hash string) (domain.Session, error) {
	return queryOne(ctx, s, scanSession, `SELECT `+sessionColumns+` FROM sessions WHERE hash = $1`, hash)
}

func scanSession(r row) (domain.Session, error) {
	var (
		sess domain.Session
		door string
	)
	if err := r.Scan(&sess.Hash, &sess.UserID, &door, &sess.Source, &sess.UserAgent, &sess.CreatedAt, &sess.ExpiresAt); err != nil {
		return domain.Session{}, err
	}
	sess.Door = domain.SessionDoor(door)
	sess.CreatedAt, sess.ExpiresAt = utc(sess.CreatedAt), utc(sess.ExpiresAt)
	return sess, nil
}

// DeleteSession deletes a session; deleting one that is not there is fine.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

// ExtendSession sets the expiry of an active session in one statement;
// domain.ErrNotFound if no active session has that hash.
func (s *Store) ExtendSession(ctx context.Context, hash string, expiresAt time.Time) error {
	n, err := s.exec(ctx, `UPDATE sessions SET expires_at = $2 WHERE hash = $1 AND expires_at > $3`, hash, expiresAt, s.now())
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

// ListUserSessions returns the user's active sessions, oldest first, by the
// user_id index.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	return queryAll(ctx, s, scanSession, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, hash`, userID, s.now())
}

// DeleteUserSessions deletes every session of the user in one statement.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// Authorization codes.

const codeColumns = `hash, client_id, user_id, redirect_uri, scope, challenge, challenge_method,
	family_id, issued_at, expires_at, used, replayed, claimed_by, claimed_until, nonce, signin_at, sid`

func scanCode(r row) (domain.AuthorizationCode, error) {
	var (
		c            domain.AuthorizationCode
		scope        []string
		claimedUntil *time.Time
		signInAt     *time.Time
	)
	err := r.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &scope, &c.Challenge, &c.ChallengeMethod,
		&c.FamilyID, &c.IssuedAt, &c.ExpiresAt, &c.Used, &c.Replayed, &c.ClaimedBy, &claimedUntil,
		&c.Nonce, &signInAt, &c.SignIn.SessionID)
	if err != nil {
		return domain.AuthorizationCode{}, err
	}
	c.SignIn.At = fromNullTime(signInAt)
	c.Scope = domain.NewScope(scope...)
	c.IssuedAt, c.ExpiresAt = utc(c.IssuedAt), utc(c.ExpiresAt)
	if claimedUntil != nil {
		c.ClaimedUntil = utc(*claimedUntil)
	}
	return c, nil
}

// CreateCode stores c; domain.ErrConflict if its hash is taken.
func (s *Store) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	var claimedUntil *time.Time
	if !c.ClaimedUntil.IsZero() {
		claimedUntil = &c.ClaimedUntil
	}
	_, err := s.exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, strs(domain.NewScope(c.Scope...)), c.Challenge, c.ChallengeMethod,
		c.FamilyID, c.IssuedAt, c.ExpiresAt, c.Used, c.Replayed, c.ClaimedBy, claimedUntil,
		c.Nonce, nullTime(c.SignIn.At), c.SignIn.SessionID)
	return err
}

// FindCode returns the code as it is, locking nothing.
func (s *Store) FindCode(ctx context.Context, hash string) (domain.AuthorizationCode, error) {
	return queryOne(ctx, s, scanCode, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1`, hash)
}

// errLate is a claim or used-settlement that reached the database after
// its caller's deadline: it has no effect, as if it had timed out (see
// app.CodeStore).
var errLate = fmt.Errorf("postgres: %w: the call ran after its caller's deadline", domain.ErrUnavailable)

// ClaimCode locks the code's row, decides by the domain's rule, and writes
// the claim, in one transaction: a concurrent claim waits on the row and
// then reads the committed claim.
func (s *Store) ClaimCode(ctx context.Context, hash, attempt string, until time.Time) (domain.AuthorizationCode, bool, error) {
	var (
		before  domain.AuthorizationCode
		granted bool
	)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		before, err = scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1 FOR UPDATE`, hash))
		if err != nil {
			return err
		}
		if granted = before.Claimable(attempt, s.now()); !granted {
			return nil
		}
		tag, err := tx.Exec(ctx, `UPDATE auth_codes SET claimed_by = $2, claimed_until = $3
			WHERE hash = $1 AND clock_timestamp() <= $4`, hash, attempt, until, deadline)
		if err == nil && tag.RowsAffected() == 0 {
			return errLate
		}
		return err
	})
	if errors.Is(err, errLate) {
		return domain.AuthorizationCode{}, false, errLate
	}
	return before, granted, err
}

// SettleCode ends attempt's claim in one statement that matches only while
// the claim is attempt's.
func (s *Store) SettleCode(ctx context.Context, hash, attempt string, used bool) error {
	if !used {
		_, err := s.exec(ctx, `UPDATE auth_codes SET claimed_by = '', claimed_until = NULL
			WHERE hash = $1 AND claimed_by = $2 AND NOT used`, hash, attempt)
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	type outcome struct{ inTime, used bool }
	o, err := queryOne(ctx, s, func(r row) (outcome, error) {
		var o outcome
		err := r.Scan(&o.inTime, &o.used)
		return o, err
	}, `WITH u AS (
			UPDATE auth_codes SET used = true
			WHERE hash = $1 AND claimed_by = $2 AND NOT replayed AND clock_timestamp() <= $3
			RETURNING 1
		)
		SELECT clock_timestamp() <= $3, EXISTS (SELECT 1 FROM u)`, hash, attempt, deadline)
	switch {
	case err != nil:
		return err
	case !o.inTime && !o.used:
		return errLate
	case !o.used:
		return domain.ErrClaimLost
	}
	return nil
}

// MarkCodeReplayed marks the code replayed; a missing code is fine.
func (s *Store) MarkCodeReplayed(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, `UPDATE auth_codes SET replayed = true WHERE hash = $1`, hash)
	return err
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

// DeleteClientConsents deletes every user's consent to the client.
func (s *Store) DeleteClientConsents(ctx context.Context, clientID string) error {
	_, err := s.exec(ctx, `DELETE FROM consents WHERE client_id = $1`, clientID)
	return err
}
