package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Refresh tokens and their families. A token's revocation is its family's:
// every read joins refresh_families, and revoking writes only the family
// row, so it needs no snapshot of the tokens and cannot miss one a
// concurrent rotation adds (the rotation holds the family row until it
// commits, and the revocation waits for it).

const refreshColumns = `t.hash, t.family_id, t.client_id, t.user_id, t.scope, t.status, t.issued_at, t.expires_at,
	t.access_ttl_ms, f.auth_time, f.revoked_at IS NOT NULL, f.signin_at, f.sid`

const refreshFrom = ` FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id`

// tombstoneTTL is how long a family revoked before it existed is kept:
// longer than any code, and so any exchange that could still create it,
// lives.
const tombstoneTTL = 10 * time.Minute

func scanRefresh(r row) (domain.RefreshToken, error) {
	var (
		t         domain.RefreshToken
		scope     []string
		status    string
		accessTTL int64
		revoked   bool
		signInAt  *time.Time
	)
	if err := r.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &scope, &status, &t.IssuedAt, &t.ExpiresAt,
		&accessTTL, &t.AuthTime, &revoked, &signInAt, &t.SignIn.SessionID); err != nil {
		return domain.RefreshToken{}, err
	}
	t.SignIn.At = fromNullTime(signInAt)
	t.Scope = domain.NewScope(scope...)
	t.Status = domain.RefreshStatus(status)
	if revoked {
		t.Status = domain.RefreshRevoked
	}
	t.IssuedAt, t.ExpiresAt, t.AuthTime = utc(t.IssuedAt), utc(t.ExpiresAt), utc(t.AuthTime)
	t.AccessTTL = duration(accessTTL)
	return t, nil
}

const insertRefresh = `INSERT INTO refresh_tokens (hash, family_id, client_id, user_id, scope, status, issued_at, expires_at, access_ttl_ms)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func refreshArgs(t domain.RefreshToken) []any {
	return []any{t.Hash, t.FamilyID, t.ClientID, t.UserID, strs(domain.NewScope(t.Scope...)), string(t.Status),
		t.IssuedAt, t.ExpiresAt, millis(t.AccessTTL)}
}

// CreateRefreshToken stores t in one transaction: it holds the user's grant
// to the client (refresh_grants) and the family (both upserts, so both rows
// exist and are locked), refuses with domain.ErrRevoked if either was revoked, and
// inserts the token. domain.ErrConflict if the hash is taken.
func (s *Store) CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error {
	var refused error
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if t.UserID != "" {
			// Upserts, not a SELECT ... FOR SHARE of a row inserted if
			// missing: the row always comes back, even if Sweep deleted it
			// in between. The user's row first, then the grant's, in the
			// order every transaction takes them.
			var userRevoked, grantRevoked *time.Time
			if err := tx.QueryRow(ctx, `INSERT INTO refresh_users (user_id) VALUES ($1)
				ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
				RETURNING revoked_at`, t.UserID).Scan(&userRevoked); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `INSERT INTO refresh_grants (user_id, client_id) VALUES ($1, $2)
				ON CONFLICT (user_id, client_id) DO UPDATE SET user_id = EXCLUDED.user_id
				RETURNING revoked_at`, t.UserID, t.ClientID).Scan(&grantRevoked); err != nil {
				return err
			}
			for _, at := range []*time.Time{userRevoked, grantRevoked} {
				if at != nil && !t.AuthTime.After(*at) {
					refused = domain.ErrRevoked
					return errRollback
				}
			}
		}
		var revoked bool
		if err := tx.QueryRow(ctx, `INSERT INTO refresh_families (id, client_id, user_id, auth_time, expires_at, signin_at, sid)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(refresh_families.expires_at, EXCLUDED.expires_at)
			RETURNING revoked_at IS NOT NULL`,
			t.FamilyID, t.ClientID, t.UserID, t.AuthTime, t.ExpiresAt, nullTime(t.SignIn.At), t.SignIn.SessionID).Scan(&revoked); err != nil {
			return err
		}
		if revoked {
			refused = domain.ErrRevoked
			return errRollback
		}
		_, err := tx.Exec(ctx, insertRefresh, refreshArgs(t)...)
		return err
	})
	if refused != nil {
		return refused
	}
	return err
}

// FindRefreshToken returns the token, revoked if its family is.
func (s *Store) FindRefreshToken(ctx context.Context, hash string) (domain.RefreshToken, error) {
	return queryOne(ctx, s, scanRefresh, `SELECT `+refreshColumns+refreshFrom+` WHERE t.hash = $1`, hash)
}

// RotateRefreshToken locks the token's row and its family's with SELECT ...
// FOR UPDATE, runs rotate, then marks the token rotated and inserts the new
// one, all in one transaction. A concurrent rotation of the same token, from
// this process or another, waits on the row lock and then reads the
// committed outcome, so exactly one of them sees the token active; a
// family revocation waits on the family row and then revokes the new token
// with the rest. rotate runs while the rows are locked: it builds a record
// and signs, nothing slower.
func (s *Store) RotateRefreshToken(ctx context.Context, hash string, rotate func(domain.RefreshToken) (domain.RefreshToken, error)) error {
	var refused error
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		cur, err := scanRefresh(tx.QueryRow(ctx, `SELECT `+refreshColumns+refreshFrom+` WHERE t.hash = $1 FOR UPDATE`, hash))
		if err != nil {
			return err
		}
		next, err := rotate(cur)
		if err != nil {
			refused = err
			return errRollback
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET status = $2 WHERE hash = $1`, hash, string(domain.RefreshRotated)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_families SET expires_at = GREATEST(expires_at, $2) WHERE id = $1`,
			next.FamilyID, next.ExpiresAt); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, insertRefresh, refreshArgs(next)...)
		return err
	})
	if refused != nil {
		return refused
	}
	return err
}

// RevokeFamily marks the family revoked in one upsert, creating it revoked
// if no token of it exists yet.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	now := s.now()
	_, err := s.exec(ctx, `INSERT INTO refresh_families (id, auth_time, revoked_at, expires_at) VALUES ($1, $2, $2, $3)
		ON CONFLICT (id) DO UPDATE SET revoked_at = COALESCE(refresh_families.revoked_at, EXCLUDED.revoked_at)`,
		familyID, now, now.Add(tombstoneTTL))
	return err
}

// RevokeUserClientTokens records the revocation of the user's grant to the
// client and revokes its families, in one transaction. The first statement
// locks the grant row, so a family being created under it (which holds the
// row too) has committed before the second statement looks for families,
// and is found.
func (s *Store) RevokeUserClientTokens(ctx context.Context, userID, clientID string, at time.Time) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_grants (user_id, client_id, revoked_at) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, client_id) DO UPDATE
				SET revoked_at = GREATEST(refresh_grants.revoked_at, EXCLUDED.revoked_at)`,
			userID, clientID, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $3
			WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL`, userID, clientID, s.now())
		return err
	})
}

// RevokeUserTokens records the revocation of everything the user granted
// and revokes every family of theirs, in one transaction. The first
// statement locks the user's row, so a family being created for the user
// (which holds the row too) has committed before the second statement
// looks for families, and is found.
func (s *Store) RevokeUserTokens(ctx context.Context, userID string, at time.Time) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_users (user_id, revoked_at) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE
				SET revoked_at = GREATEST(refresh_users.revoked_at, EXCLUDED.revoked_at)`,
			userID, at); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $2
			WHERE user_id = $1 AND revoked_at IS NULL`, userID, s.now())
		return err
	})
}

// RevokeClientTokens revokes every family the client holds, whoever the
// user: the client is being deleted. A rotation under way holds its
// family's row, so this waits for it and revokes the new token too.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string) error {
	_, err := s.exec(ctx, `UPDATE refresh_families SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL`, clientID, s.now())
	return err
}
