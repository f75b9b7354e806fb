package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Refresh tokens.

const refreshColumns = `hash, family_id, client_id, user_id, scope, status, issued_at, expires_at, access_ttl_ms`

func scanRefresh(r row) (domain.RefreshToken, error) {
	var (
		t         domain.RefreshToken
		scope     []string
		status    string
		accessTTL int64
	)
	if err := r.Scan(&t.Hash, &t.FamilyID, &t.ClientID, &t.UserID, &scope, &status, &t.IssuedAt, &t.ExpiresAt, &accessTTL); err != nil {
		return domain.RefreshToken{}, err
	}
	t.Scope = domain.NewScope(scope...)
	t.Status = domain.RefreshStatus(status)
	t.IssuedAt, t.ExpiresAt = utc(t.IssuedAt), utc(t.ExpiresAt)
	t.AccessTTL = duration(accessTTL)
	return t, nil
}

func refreshArgs(t domain.RefreshToken) []any {
	return []any{t.Hash, t.FamilyID, t.ClientID, t.UserID, strs(domain.NewScope(t.Scope...)), string(t.Status),
		t.IssuedAt, t.ExpiresAt, millis(t.AccessTTL)}
}

const insertRefresh = `INSERT INTO refresh_tokens (` + refreshColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// CreateRefreshToken stores t; domain.ErrConflict if its hash is taken.
func (s *Store) CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error {
	_, err := s.exec(ctx, insertRefresh, refreshArgs(t)...)
	return err
}

// FindRefreshToken returns the token stored under hash, whatever its status or
// expiry, or domain.ErrNotFound.
func (s *Store) FindRefreshToken(ctx context.Context, hash string) (domain.RefreshToken, error) {
	return queryOne(ctx, s, scanRefresh, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash)
}

// RotateRefreshToken locks the row with SELECT ... FOR UPDATE, runs rotate
// on it, then marks it rotated and inserts the new token, all in one
// transaction. A concurrent rotation of the same token, from this process or
// another, waits on the row lock and then reads the committed outcome, so
// exactly one of them sees the token active. rotate runs while the row is
// locked: it must only build a record.
func (s *Store) RotateRefreshToken(ctx context.Context, hash string, rotate func(domain.RefreshToken) (domain.RefreshToken, error)) error {
	var refused error
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		cur, err := scanRefresh(tx.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, hash))
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
		_, err = tx.Exec(ctx, insertRefresh, refreshArgs(next)...)
		return err
	})
	if refused != nil {
		return refused
	}
	return err
}

// RevokeFamily revokes every token of a family, whatever its status.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	_, err := s.exec(ctx, `UPDATE refresh_tokens SET status = $2 WHERE family_id = $1`, familyID, string(domain.RefreshRevoked))
	return err
}

// RevokeUserClientTokens revokes every refresh token clientID holds for
// userID, whatever its family or status.
func (s *Store) RevokeUserClientTokens(ctx context.Context, userID, clientID string) error {
	_, err := s.exec(ctx, `UPDATE refresh_tokens SET status = $3 WHERE user_id = $1 AND client_id = $2`,
		userID, clientID, string(domain.RefreshRevoked))
	return err
}
