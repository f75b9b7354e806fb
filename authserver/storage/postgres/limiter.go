package postgres

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Limiter keeps attempt counters (domain.Counter) in the throttle_counters
// table, shared by every replica. Each call is one transaction that locks
// its keys' rows in key order, applies the domain's rules and writes them
// back, so a reservation over several keys is atomic and concurrent ones
// queue on the row locks. A refused reservation writes nothing, and a
// counter that settles back to nothing is deleted, so rows are kept only
// for failures; the sweep deletes those that have run out.
type Limiter struct {
	store  *Store
	policy app.LimitPolicy
}

// Limiter returns an attempt limiter kept in this store's database.
func (s *Store) Limiter(policy app.LimitPolicy) *Limiter { return &Limiter{store: s, policy: policy} }

// limitRow is one key's counter, with its rule.
type limitRow struct {
	key  string
	rule domain.Throttle
	c    domain.Counter
}

// rows returns the keys whose rule is on, sorted so that every transaction
// locks them in the same order.
func (l *Limiter) rows(keys []app.LimitKey) []limitRow {
	out := make([]limitRow, 0, len(keys))
	for _, k := range keys {
		if rule := l.policy.Rule(k.Kind); rule.On() {
			out = append(out, limitRow{key: k.String(), rule: rule})
		}
	}
	slices.SortFunc(out, func(a, b limitRow) int { return cmp.Compare(a.key, b.key) })
	return out
}

// lock reads and locks the rows of keys in key order. Missing rows are
// inserted empty first, in the same order, so that concurrent first
// attempts on a new key queue on its row too; a transaction that then
// refuses rolls them back.
func lock(ctx context.Context, tx pgx.Tx, rows []limitRow, now time.Time) error {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.key
	}
	if _, err := tx.Exec(ctx, `INSERT INTO throttle_counters (key, last_at, lease_until, forget_at)
		SELECT k, $2, $2, $2 FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i) ORDER BY i
		ON CONFLICT (key) DO NOTHING`, names, now); err != nil {
		return err
	}
	got, err := tx.Query(ctx, `SELECT key, failures, pending, last_at, lease_until FROM throttle_counters
		WHERE key = ANY($1) ORDER BY key FOR UPDATE`, names)
	if err != nil {
		return err
	}
	defer got.Close()
	byKey := make(map[string]domain.Counter, len(rows))
	for got.Next() {
		var key string
		var c domain.Counter
		if err := got.Scan(&key, &c.Failures, &c.Pending, &c.Last, &c.Lease); err != nil {
			return err
		}
		byKey[key] = c
	}
	if err := got.Err(); err != nil {
		return err
	}
	for i := range rows {
		rows[i].c = byKey[rows[i].key].Current(rows[i].rule, now)
	}
	return nil
}

// write stores each row's counter, deleting those that count nothing.
func write(ctx context.Context, tx pgx.Tx, rows []limitRow) error {
	var keys, gone []string
	var failures, pending []int
	var last, lease, forget []time.Time
	for _, r := range rows {
		if r.c.Empty() {
			gone = append(gone, r.key)
			continue
		}
		keys = append(keys, r.key)
		failures = append(failures, r.c.Failures)
		pending = append(pending, r.c.Pending)
		last = append(last, r.c.Last)
		lease = append(lease, r.c.Lease)
		forget = append(forget, r.c.Expires(r.rule))
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM throttle_counters WHERE key = ANY($1)`, gone); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE throttle_counters AS t
		SET failures = v.failures, pending = v.pending, last_at = v.last_at, lease_until = v.lease_until, forget_at = v.forget_at
		FROM unnest($1::text[], $2::int[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[])
			AS v(key, failures, pending, last_at, lease_until, forget_at)
		WHERE t.key = v.key`, keys, failures, pending, last, lease, forget)
	return err
}

// Reserve counts one attempt under every key whose rule is on, if every
// one admits it; else it counts nothing and says how long to wait.
func (l *Limiter) Reserve(ctx context.Context, keys ...app.LimitKey) error {
	rows := l.rows(keys)
	if len(rows) == 0 {
		return nil
	}
	var refused *domain.Throttled
	err := l.store.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		refused = nil
		now := l.store.now()
		if err := lock(ctx, tx, rows, now); err != nil {
			return err
		}
		var wait time.Duration
		busy := false
		for _, r := range rows {
			w, b := r.c.Admit(r.rule, now)
			wait, busy = max(wait, w), busy || b
		}
		if wait > 0 || busy {
			refused = &domain.Throttled{RetryAfter: wait, Busy: wait == 0}
			return errRollback
		}
		for i := range rows {
			rows[i].c = rows[i].c.Reserve(now)
		}
		return write(ctx, tx, rows)
	})
	if refused != nil {
		return refused
	}
	return err
}

// Settle ends one attempt under every key that still has a counter.
func (l *Limiter) Settle(ctx context.Context, result domain.AttemptResult, keys ...app.LimitKey) error {
	rows := l.rows(keys)
	if len(rows) == 0 {
		return nil
	}
	return l.store.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		now := l.store.now()
		if err := lock(ctx, tx, rows, now); err != nil {
			return err
		}
		for i, r := range rows {
			if !r.c.Empty() {
				rows[i].c = r.c.Settle(r.rule, result, now)
			}
		}
		return write(ctx, tx, rows)
	})
}
