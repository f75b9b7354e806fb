package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationName is how a migration file is named: a zero-padded number, so
// that name order is apply order, and a word or two.
var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// migrateLock is the first key of the advisory lock that serialises
// migrations; the second is the schema's, so that two schemas of one
// database migrate independently.
const migrateLock = 0x6f617574 // "oaut"

// Migrate applies, in order, every embedded migration the database does
// not have yet, and returns the versions it applied. Each migration runs in
// its own transaction together with its row in schema_migrations, under a
// transaction-scoped advisory lock: replicas that migrate at once apply
// each migration exactly once, and running Migrate again applies nothing.
//
// Migrate is bounded by ctx only, not by the query timeout: a migration may
// rightly take longer than any request.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, wrapf("reading migrations: %w", err)
	}
	applied = []string{}
	for _, e := range entries { // ReadDir sorts by name
		if !migrationName.MatchString(e.Name()) {
			return applied, wrapf("migration %q: name must look like 0001_init.sql", e.Name())
		}
		sql, err := fs.ReadFile(migrations, "migrations/"+e.Name())
		if err != nil {
			return applied, wrapf("reading migration %s: %w", e.Name(), err)
		}
		version := strings.TrimSuffix(e.Name(), ".sql")
		done, err := s.migrate(ctx, version, string(sql))
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", version, err)
		}
		if done {
			applied = append(applied, version)
		}
	}
	return applied, nil
}

// migrate applies one migration unless it is recorded as applied.
func (s *Store) migrate(ctx context.Context, version, sql string) (applied bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, mapErr(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	applied, err = migrateTx(ctx, tx, version, sql)
	if err != nil {
		return false, mapErr(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, mapErr(err)
	}
	return applied, nil
}

func migrateTx(ctx context.Context, tx pgx.Tx, version, sql string) (bool, error) {
	// The lock comes first, before the table is created: two concurrent
	// CREATE TABLE IF NOT EXISTS can still collide.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`, migrateLock); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, err
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	// Without arguments pgx uses the simple protocol, which runs a file of
	// several statements.
	if _, err := tx.Exec(ctx, sql); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
		return false, err
	}
	return true, nil
}
