package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Signing keys.

// SigningKeys returns every stored key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]domain.SigningKey, error) {
	return queryAll(ctx, s, func(r row) (domain.SigningKey, error) {
		var (
			k       domain.SigningKey
			retired *time.Time
		)
		if err := r.Scan(&k.ID, &k.Algorithm, &k.PrivatePEM, &k.CreatedAt, &retired); err != nil {
			return domain.SigningKey{}, err
		}
		k.CreatedAt = utc(k.CreatedAt)
		if retired != nil {
			k.RetiredAt = utc(*retired)
		}
		return k, nil
	}, `SELECT id, algorithm, private_pem, created_at, retired_at FROM signing_keys ORDER BY created_at, id`)
}

// AddSigningKey stores keys and retires every key still signing, in one
// transaction. The table lock makes two replicas rotating at once take
// turns, so that the second retires the first's new keys too and one
// generation of signers is left.
func (s *Store) AddSigningKey(ctx context.Context, keys ...domain.SigningKey) error {
	if len(keys) == 0 {
		return nil
	}
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, keys[0].CreatedAt); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_pem, created_at, retired_at)
				VALUES ($1, $2, $3, $4, $5)`, k.ID, k.Algorithm, k.PrivatePEM, k.CreatedAt, nullTime(k.RetiredAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteSigningKeys removes keys retired before retiredBefore; the signer
// is never removed.
func (s *Store) DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	_, err := s.exec(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1`, retiredBefore)
	return err
}
