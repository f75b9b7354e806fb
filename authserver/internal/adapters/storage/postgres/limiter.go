package postgres

import (
	"context"

	"github.com/oauth2ref/authserver/internal/app"
)

// Limiter counts failures per key in fixed windows in the login_failures
// table, with the memory limiter's rules: a window starts at the first
// failure and lasts Window; a key is blocked while its window has
// MaxFailures failures or more. MaxFailures <= 0 turns it off.
type Limiter struct {
	store *Store
	cfg   app.LimitPolicy
}

// Limiter returns a failure limiter kept in this store's database.
func (s *Store) Limiter(cfg app.LimitPolicy) *Limiter { return &Limiter{store: s, cfg: cfg} }

// Blocked reports whether key's window is live and holds MaxFailures failures
// or more.
func (l *Limiter) Blocked(ctx context.Context, key string) (bool, error) {
	if l.cfg.MaxFailures <= 0 {
		return false, nil
	}
	return queryOne(ctx, l.store, func(r row) (bool, error) {
		var blocked bool
		err := r.Scan(&blocked)
		return blocked, err
	}, `SELECT EXISTS (SELECT 1 FROM login_failures WHERE key = $1 AND window_ends > $2 AND failures >= $3)`,
		key, l.store.now(), l.cfg.MaxFailures)
}

// Failed counts a failure in one upsert: it adds to a live window, or
// starts a new one if there is none or it has ended. The row lock of the
// upsert makes concurrent failures each count.
func (l *Limiter) Failed(ctx context.Context, key string) error {
	if l.cfg.MaxFailures <= 0 {
		return nil
	}
	now := l.store.now()
	_, err := l.store.exec(ctx, `INSERT INTO login_failures AS f (key, failures, window_ends) VALUES ($1, 1, $3)
		ON CONFLICT (key) DO UPDATE SET
			failures    = CASE WHEN f.window_ends > $2 THEN f.failures + 1 ELSE 1 END,
			window_ends = CASE WHEN f.window_ends > $2 THEN f.window_ends ELSE EXCLUDED.window_ends END`,
		key, now, now.Add(l.cfg.Window))
	return err
}
