package postgres

import (
	"context"
	"time"
)

// Revocations.

// Revoke marks id revoked for tokens issued at or before at, until until.
// One upsert: revoking again can only widen the mark (later at, later
// until), never narrow it, whatever order concurrent calls commit in.
func (s *Store) Revoke(ctx context.Context, id string, at, until time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO revocations (id, revoked_at, keep_until) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET
			revoked_at = GREATEST(revocations.revoked_at, EXCLUDED.revoked_at),
			keep_until = GREATEST(revocations.keep_until, EXCLUDED.keep_until)`, id, at, until)
	return err
}

// Revoked reports, in one query, whether a token issued at iat carrying any
// of ids is covered by a live mark. Time is the store's clock's, passed in,
// not the database's now().
func (s *Store) Revoked(ctx context.Context, iat time.Time, ids ...string) (bool, error) {
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			keys = append(keys, id)
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	return queryOne(ctx, s, func(r row) (bool, error) {
		var revoked bool
		err := r.Scan(&revoked)
		return revoked, err
	}, `SELECT EXISTS (SELECT 1 FROM revocations
		WHERE id = ANY($1) AND keep_until > $2 AND revoked_at >= $3)`, keys, s.now(), iat)
}
