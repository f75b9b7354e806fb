package postgres

import (
	"context"
	"errors"
)

// sweepBatch is how many rows one DELETE of Sweep removes, so that each
// statement stays well inside the query timeout however much has piled up.
const sweepBatch = 5000

// Sweep deletes what has expired, by the store's clock: refresh tokens past
// their expiry (an expired token is refused whatever its status), marks past
// the last token they cover, sessions and codes past their expiry (a
// redeemed code is kept until then, so a replay is still recognised), and
// attempt counters that have run out. Each table is swept in batches, each
// batch one statement under its own timeout; a failure on one table does
// not stop the others, and every failure is returned.
func (s *Store) Sweep(ctx context.Context) error {
	now := s.now()
	var errs []error
	for _, t := range []struct{ table, expired string }{
		{"refresh_tokens", "expires_at <= $1"},
		// A family goes after its last token, a tombstone when its watch ends.
		{"refresh_families", "expires_at <= $1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)"},
		// A grant row is only a lock and a mark; a mark matters while a code
		// issued before it could still be exchanged.
		{"refresh_grants", "revoked_at IS NULL OR revoked_at <= $1::timestamptz - interval '10 minutes'"},
		{"refresh_users", "revoked_at IS NULL OR revoked_at <= $1::timestamptz - interval '10 minutes'"},
		{"revocations", "keep_until <= $1"},
		{"sessions", "expires_at <= $1"},
		{"auth_codes", "expires_at <= $1"},
		{"login_failures", "window_ends <= $1"},
		{"throttle_counters", "forget_at <= $1"},
	} {
		sql := `DELETE FROM ` + t.table + ` WHERE ctid IN (SELECT ctid FROM ` + t.table +
			` WHERE ` + t.expired + ` LIMIT $2)`
		for {
			n, err := s.exec(ctx, sql, now, sweepBatch)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if n < sweepBatch || ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}
