// Package postgres keeps every data group in PostgreSQL: the durable
// backend, shared by every replica. Each group is its own set of tables with
// no foreign key to another group, so any group may be put on another
// backend. The schema is embedded and applied by Migrate.
//
// Every statement runs under a context bounded by Config.QueryTimeout, so a
// hung database fails a request fast with domain.ErrUnavailable instead of
// holding it. Multi-step changes run in one transaction under one such
// bound.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// DSN is a libpq connection string or URL. Parameters PostgreSQL knows
	// (search_path, application_name, ...) are sent as run-time parameters,
	// so `?search_path=authserver` puts the tables in that schema.
	DSN string
	// MaxConns and MinConns bound the pool; pgxpool's defaults if zero.
	MaxConns int32
	MinConns int32
	// MaxConnIdleTime closes connections idle that long; pgxpool's default
	// if zero.
	MaxConnIdleTime time.Duration
	// QueryTimeout bounds every statement and every transaction, waiting
	// for a pooled connection included. Default 2s.
	QueryTimeout time.Duration
}

// DefaultQueryTimeout is the QueryTimeout of a zero Config.
const DefaultQueryTimeout = 2 * time.Second

// Store is a PostgreSQL store of all data groups.
type Store struct {
	pool    *pgxpool.Pool
	now     func() time.Time
	timeout time.Duration
}

// Open connects to the database and checks that it answers. now is the
// clock used to judge expiry. A database that cannot be reached gives an
// error that matches domain.ErrUnavailable.
func Open(ctx context.Context, cfg Config, now func() time.Time) (*Store, error) {
	if cfg.DSN == "" {
		return nil, errors.New("postgres: DSN is required")
	}
	if now == nil {
		now = time.Now
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// The message of a parse error can quote the DSN, password and all.
		return nil, errors.New("postgres: the DSN cannot be parsed")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if cfg.MinConns > 0 {
		pc.MinConns = cfg.MinConns
	}
	if cfg.MaxConnIdleTime > 0 {
		pc.MaxConnIdleTime = cfg.MaxConnIdleTime
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		// A dial made for the pool in the background has no request
		// context to bound it.
		pc.ConnConfig.ConnectTimeout = cfg.QueryTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, mapErr(err)
	}
	s := &Store{pool: pool, now: now, timeout: cfg.QueryTimeout}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every connection. Calls after Close fail with
// domain.ErrUnavailable.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.pool.Ping(ctx))
}

// bound limits ctx to the query timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// exec runs one statement.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := retryConflicts(ctx, func() error {
		tag, err := s.pool.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, mapErr(err)
	}
	return n, nil
}

// maxConflictRetries bounds how often a statement or transaction that lost
// a deadlock or serialization conflict is run again, within its one
// timeout. Then it is an outage like any other: ErrUnavailable, and the
// client may retry.
const maxConflictRetries = 3

// retryConflicts runs fn again when PostgreSQL aborted it for a deadlock
// (40P01) or a serialization failure (40001): the aborted attempt changed
// nothing, and the conflict that killed it is usually gone a moment later.
func retryConflicts(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !conflict(err) || attempt >= maxConflictRetries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// row is what scanners read from: a pgx.Row, or the current row of
// pgx.Rows.
type row = pgx.Row

// queryOne runs a query for one row; domain.ErrNotFound if there is none.
func queryOne[T any](ctx context.Context, s *Store, scan func(row) (T, error), sql string, args ...any) (T, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var v T
	err := retryConflicts(ctx, func() error {
		var err error
		v, err = scan(s.pool.QueryRow(ctx, sql, args...))
		return err
	})
	if err != nil {
		var zero T
		return zero, mapErr(err)
	}
	return v, nil
}

// queryAll runs a query and scans every row. The result is never nil, so
// an empty list encodes as [] wherever it goes.
func queryAll[T any](ctx context.Context, s *Store, scan func(row) (T, error), sql string, args ...any) ([]T, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []T
	err := retryConflicts(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
		return err
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// errRollback makes inTx roll back without reporting an error of its own;
// the caller keeps the real reason.
var errRollback = errors.New("rollback")

// inTx runs fn in one transaction, bounded as a whole by the query
// timeout, and commits if fn returns nil. A transaction aborted by a
// deadlock or serialization conflict is run again from the start, so fn
// must only set its results, never accumulate them. Errors are mapped once,
// here.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := retryConflicts(ctx, func() error {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return err
		}
		// After a commit this is a no-op; after a timeout pgx closes the
		// connection instead of waiting on it.
		defer func() { _ = tx.Rollback(ctx) }()
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if errors.Is(err, errRollback) {
		return err
	}
	return mapErr(err)
}

// utc normalises a time read from the database: pgx returns local times.
func utc(t time.Time) time.Time { return t.UTC() }

func millis(d time.Duration) int64 { return d.Milliseconds() }

// nullTime is t for a nullable column: NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNullTime is a nullable column's time, zero for NULL.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func duration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// strs turns a slice of a string type into []string, never nil, since the
// array columns are NOT NULL.
func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// typed turns a []string read from an array column back into a slice of a
// string type; an empty array reads as nil, as the domain builds them.
func typed[T ~string](in []string) []T {
	if len(in) == 0 {
		return nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

func wrapf(format string, args ...any) error { return fmt.Errorf("postgres: "+format, args...) }
