package faulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresDSN is the server tests use when AUTHSERVER_POSTGRES_DSN
// is not set.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminDSN is the PostgreSQL server the tests use: AUTHSERVER_POSTGRES_DSN,
// else DefaultPostgresDSN.
func AdminDSN() string {
	if dsn := os.Getenv("AUTHSERVER_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// NewDatabase creates an empty database for the test on the server of
// AdminDSN, returns its DSN, and drops it (connections and all) when the
// test ends. A server that cannot be reached skips the test (fails it
// under CI).
func NewDatabase(tb testing.TB) (dsn string) {
	tb.Helper()
	admin := AdminDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		Unavailable(tb, "PostgreSQL not reachable at %s; set AUTHSERVER_POSTGRES_DSN: %v", Redact(admin), err)
	}
	defer func() { _ = conn.Close(context.Background()) }()

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("faulttest: creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err == nil {
			_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
		if err != nil {
			tb.Logf("faulttest: dropping database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// withDatabase returns dsn naming database name instead, in either DSN
// form (URL, or key=value where a later key wins).
func withDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// Redact hides a URL DSN's password, for messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "the configured DSN"
	}
	return u.Redacted()
}

// LockTable takes an ACCESS EXCLUSIVE lock on table (optionally
// schema-qualified) in a transaction it keeps open, so that every query on
// the table waits, until release is called or the test ends.
func LockTable(tb testing.TB, dsn, table string) (release func()) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("faulttest: LockTable: connecting: %v", err)
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier(strings.Split(table, ".")).Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	}
	if err != nil {
		_ = conn.Close(context.Background())
		tb.Fatalf("faulttest: LockTable %s: %v", table, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	tb.Cleanup(release)
	return release
}
