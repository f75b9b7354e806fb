package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

const defaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// generous bounds every statement that must succeed: far above what one
// takes on a loaded machine. A down server refuses at once.
const generous = 30 * time.Second

var (
	reachOnce sync.Once
	reachErr  error
)

// testDSN returns the database to test against, skipping the test (or
// failing it under CI) when there is none.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("AUTHSERVER_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), generous)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	if reachErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL not reachable at %s: %v", redact(dsn), reachErr)
		}
		t.Skipf("PostgreSQL not reachable at %s; set AUTHSERVER_POSTGRES_DSN", redact(dsn))
	}
	return dsn
}

// redact hides a URL DSN's password.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "the configured DSN"
	}
	return u.Redacted()
}

// withSearchPath returns dsn with its search_path set to schema, in either
// DSN form.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

// newSchema creates an empty schema that is dropped when the test ends.
func newSchema(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn = testDSN(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema = "t_" + hex.EncodeToString(b)
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), generous)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	require.NoError(t, admin(`CREATE SCHEMA `+schema))
	t.Cleanup(func() {
		if err := admin(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return withSearchPath(dsn, schema), schema
}

// openStore opens a store on dsn, closed when the test ends.
func openStore(t *testing.T, dsn string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{DSN: dsn, MaxConns: 8, QueryTimeout: generous}, now)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// newStore returns a migrated store in a schema of its own.
func newStore(t *testing.T, clock *storagetest.Clock) *Store {
	t.Helper()
	dsn, _ := newSchema(t)
	s := openStore(t, dsn, clock.Now)
	_, err := s.Migrate(context.Background())
	require.NoError(t, err)
	return s
}

var (
	_ storagetest.ClientStore            = (*Store)(nil)
	_ storagetest.BatchStore             = (*Store)(nil)
	_ storagetest.UserStore              = (*Store)(nil)
	_ storagetest.UserClientRefreshStore = (*Store)(nil)
	_ storagetest.AuditStore             = (*Store)(nil)
)

func TestConformance(t *testing.T) {
	testDSN(t)
	t.Run("clients", func(t *testing.T) {
		storagetest.RunClients(t, func(t *testing.T) storagetest.ClientStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("batch", func(t *testing.T) {
		storagetest.RunBatch(t, func(t *testing.T) storagetest.BatchStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("users", func(t *testing.T) {
		storagetest.RunUsers(t, func(t *testing.T) storagetest.UserStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("refresh tokens", func(t *testing.T) {
		storagetest.RunRefreshTokens(t, func(t *testing.T, c *storagetest.Clock) app.RefreshTokenStore { return newStore(t, c) })
	})
	t.Run("revocations", func(t *testing.T) {
		storagetest.RunRevocations(t, func(t *testing.T, c *storagetest.Clock) app.RevocationStore { return newStore(t, c) })
	})
	t.Run("signing keys", func(t *testing.T) {
		storagetest.RunSigningKeys(t, func(t *testing.T) jwtkeys.Store { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("sessions", func(t *testing.T) {
		storagetest.RunSessions(t, func(t *testing.T, c *storagetest.Clock) app.SessionStore { return newStore(t, c) })
	})
	t.Run("codes", func(t *testing.T) {
		storagetest.RunCodes(t, func(t *testing.T, c *storagetest.Clock) app.CodeStore { return newStore(t, c) })
	})
	t.Run("consents", func(t *testing.T) {
		storagetest.RunConsents(t, func(t *testing.T) app.ConsentStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("client consents", func(t *testing.T) {
		storagetest.RunClientConsents(t, func(t *testing.T) storagetest.ClientConsentStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("client revocation", func(t *testing.T) {
		storagetest.RunClientRevocation(t, func(t *testing.T, c *storagetest.Clock) storagetest.ClientRefreshStore { return newStore(t, c) })
	})
	t.Run("user-client revocation", func(t *testing.T) {
		storagetest.RunUserClientRevocation(t, func(t *testing.T, c *storagetest.Clock) storagetest.UserClientRefreshStore {
			return newStore(t, c)
		})
	})
	t.Run("user revocation", func(t *testing.T) {
		storagetest.RunUserRevocation(t, func(t *testing.T, c *storagetest.Clock) storagetest.UserRefreshStore {
			return newStore(t, c)
		})
	})
	t.Run("audit", func(t *testing.T) {
		storagetest.RunAudit(t, func(t *testing.T) storagetest.AuditStore { return newStore(t, storagetest.NewClock()) })
	})
	t.Run("limiter", func(t *testing.T) {
		storagetest.RunLimiter(t, func(t *testing.T, c *storagetest.Clock) app.Limiter {
			return newStore(t, c).Limiter(storagetest.LimitPolicy)
		})
	})
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn, _ := newSchema(t)
	a, b := openStore(t, dsn, time.Now), openStore(t, dsn, time.Now)

	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([]error, 2)
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	all := append(append([]string{}, results[0]...), results[1]...)
	assert.ElementsMatch(t, embeddedVersions(t), all, "each migration is applied exactly once between the two")

	again, err := a.Migrate(ctx)
	require.NoError(t, err)
	assert.Empty(t, again, "a second run applies nothing")

	versions, err := queryAll(ctx, a, func(r row) (string, error) {
		var v string
		err := r.Scan(&v)
		return v, err
	}, `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	assert.Equal(t, embeddedVersions(t), versions)
}

// embeddedVersions lists the migrations in the binary, in order.
func embeddedVersions(t *testing.T) []string {
	entries, err := fs.ReadDir(migrations, "migrations")
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".sql"))
	}
	require.Contains(t, out, "0001_init")
	return out
}

// fast bounds a failure that must not wait long: the server refuses, the
// client is closed, or a short timeout fires. It leaves room for any load,
// and is far below the generous timeout and what the server would take.
const fast = 10 * time.Second

func TestDownDatabaseIsUnavailableFast(t *testing.T) {
	ctx := context.Background()
	t.Run("nothing listening", func(t *testing.T) {
		start := time.Now()
		_, err := Open(ctx, Config{DSN: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1"}, time.Now)
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
	})
	t.Run("closed pool", func(t *testing.T) {
		s := newStore(t, storagetest.NewClock())
		s.Close()
		start := time.Now()
		_, err := s.FindClient(ctx, "c")
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
	})
	t.Run("query past the timeout", func(t *testing.T) {
		s := newStore(t, storagetest.NewClock())
		s.timeout = 200 * time.Millisecond
		start := time.Now()
		// A minute: however late the timeout fires, it fires first.
		_, err := s.exec(ctx, `SELECT pg_sleep(60)`)
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
		s.timeout = generous
		require.NoError(t, s.Ping(ctx), "the pool recovers")
	})
	t.Run("row held by another transaction", func(t *testing.T) {
		clock := storagetest.NewClock()
		s := newStore(t, clock)
		rt := domain.RefreshToken{Hash: "h", FamilyID: "f", ClientID: "c", Status: domain.RefreshActive,
			IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
		require.NoError(t, s.CreateRefreshToken(ctx, rt))
		tx, err := s.pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT 1 FROM refresh_tokens WHERE hash = 'h' FOR UPDATE`)
		require.NoError(t, err)

		s.timeout = 300 * time.Millisecond // the lock is held until the test ends
		start := time.Now()
		err = s.RotateRefreshToken(ctx, "h", func(cur domain.RefreshToken) (domain.RefreshToken, error) {
			t.Error("rotate must not run without the lock")
			return cur, nil
		})
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
	})
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error // nil: none of the sentinels
	}{
		{"no rows", pgx.ErrNoRows, domain.ErrNotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, domain.ErrConflict},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, domain.ErrUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, domain.ErrUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, domain.ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, domain.ErrUnavailable},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), domain.ErrUnavailable},
		{"closed pool", puddle.ErrClosedPool, domain.ErrUnavailable},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, domain.ErrUnavailable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), domain.ErrUnavailable},
		{"undefined table", &pgconn.PgError{Code: "42P01"}, nil},
		{"anything else", errors.New("boom"), nil},
	}
	sentinels := []error{domain.ErrNotFound, domain.ErrConflict, domain.ErrUnavailable}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.err)
			require.Error(t, got)
			for _, s := range sentinels {
				assert.Equal(t, errors.Is(tc.want, s), errors.Is(got, s), "errors.Is(%v, %v)", got, s)
			}
			if !errors.Is(tc.want, domain.ErrNotFound) {
				assert.ErrorIs(t, got, tc.err, "the cause is kept")
			}
		})
	}
	assert.NoError(t, mapErr(nil))
}

// Two pools on one schema stand for two replicas on one database.
func TestAtomicAcrossPools(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	first := newStore(t, clock)
	dsn := withSearchPath(testDSN(t), currentSchema(t, first))
	second := openStore(t, dsn, clock.Now)
	stores := []*Store{first, second}

	t.Run("one rotation wins", func(t *testing.T) {
		now := clock.Now()
		old := domain.RefreshToken{Hash: "rt-0", FamilyID: "fam", ClientID: "c", UserID: "u", Status: domain.RefreshActive,
			IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, first.CreateRefreshToken(ctx, old))
		won := runConcurrently(16, func(i int) bool {
			err := stores[i%2].RotateRefreshToken(ctx, old.Hash, func(cur domain.RefreshToken) (domain.RefreshToken, error) {
				if cur.Status != domain.RefreshActive {
					return domain.RefreshToken{}, errors.New("already used")
				}
				next := cur
				next.Hash = fmt.Sprintf("rt-%d", i+1)
				return next, nil
			})
			return err == nil
		})
		assert.Equal(t, 1, won)
	})
	t.Run("one claim is granted", func(t *testing.T) {
		now := clock.Now()
		c := domain.AuthorizationCode{Hash: "code", ClientID: "c", UserID: "u", FamilyID: "fam",
			IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
		require.NoError(t, first.CreateCode(ctx, c))
		granted := runConcurrently(16, func(i int) bool {
			_, ok, err := stores[i%2].ClaimCode(ctx, c.Hash, fmt.Sprintf("attempt-%d", i), now.Add(10*time.Second))
			return err == nil && ok
		})
		assert.Equal(t, 1, granted)
	})
	t.Run("rotating keys at once leaves one signer", func(t *testing.T) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		runConcurrently(8, func(i int) bool {
			k := domain.SigningKey{ID: fmt.Sprintf("k%d", i), Algorithm: "ES256", PrivatePEM: []byte("pem"), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
			return stores[i%2].AddSigningKey(ctx, k) == nil
		})
		keys, err := first.SigningKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys, 8)
		signers := 0
		for _, k := range keys {
			if k.RetiredAt.IsZero() {
				signers++
			}
		}
		assert.Equal(t, 1, signers)
	})
}

// runConcurrently runs n calls of f at once and counts those that return true.
func runConcurrently(n int, f func(i int) bool) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count int
		start = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if f(i) {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return count
}

func currentSchema(t *testing.T, s *Store) string {
	t.Helper()
	schema, err := queryOne(context.Background(), s, func(r row) (string, error) {
		var v string
		err := r.Scan(&v)
		return v, err
	}, `SELECT current_schema()`)
	require.NoError(t, err)
	return schema
}

func TestSweepDeletesExpired(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	s := newStore(t, clock)
	now := clock.Now()
	require.NoError(t, s.CreateRefreshToken(ctx, domain.RefreshToken{Hash: "short", FamilyID: "f1", Status: domain.RefreshActive, ExpiresAt: now.Add(time.Minute)}))
	require.NoError(t, s.CreateRefreshToken(ctx, domain.RefreshToken{Hash: "long", FamilyID: "f2", Status: domain.RefreshActive, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, s.Revoke(ctx, "jti:x", now, now.Add(time.Minute)))
	require.NoError(t, s.CreateSession(ctx, domain.Session{Hash: "s", ExpiresAt: now.Add(time.Minute)}))
	require.NoError(t, s.CreateCode(ctx, domain.AuthorizationCode{Hash: "c", ExpiresAt: now.Add(time.Minute)}))
	l, key := s.Limiter(storagetest.LimitPolicy), app.LimitKey{Kind: app.LimitAccount, Subject: "a"}
	require.NoError(t, l.Reserve(ctx, key))
	require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))

	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Sweep(ctx))

	_, err := s.FindRefreshToken(ctx, "short")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.FindRefreshToken(ctx, "long")
	assert.NoError(t, err)
	for _, table := range []string{"revocations", "sessions", "auth_codes", "throttle_counters"} {
		n, err := queryOne(ctx, s, func(r row) (int, error) {
			var n int
			err := r.Scan(&n)
			return n, err
		}, `SELECT count(*) FROM `+table)
		require.NoError(t, err)
		assert.Zero(t, n, table)
	}
}

func TestTimesComeBackInUTC(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, storagetest.NewClock())
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("CET", 3600))
	u := domain.User{ID: "u", Username: "alice", PasswordHash: "h", CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.SaveUser(ctx, u))
	got, err := s.FindUser(ctx, "u")
	require.NoError(t, err)
	assert.True(t, got.CreatedAt.Equal(at))
	assert.Equal(t, time.UTC, got.CreatedAt.Location())
}

func TestScopesAreStoredSorted(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, storagetest.NewClock())
	require.NoError(t, s.SaveConsent(ctx, domain.Consent{UserID: "u", ClientID: "c", Scope: domain.Scope{"b", "a"}}))
	got, err := s.FindConsent(ctx, "u", "c")
	require.NoError(t, err)
	assert.Equal(t, domain.Scope{"a", "b"}, got.Scope)

	require.NoError(t, s.SaveConsent(ctx, domain.Consent{UserID: "u", ClientID: "d"}))
	got, err = s.FindConsent(ctx, "u", "d")
	require.NoError(t, err)
	assert.Nil(t, got.Scope, "an empty scope reads back as the domain's empty scope")
}

// TestDeadlockedTransactionIsRetried makes two transactions lock two rows
// in opposite orders. PostgreSQL aborts one (40P01); inTx runs it again and
// both succeed, instead of one answering 500.
func TestDeadlockedTransactionIsRetried(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, storagetest.NewClock())
	s.timeout = 20 * time.Second // deadlock detection takes deadlock_timeout (1 s)
	_, err := s.exec(ctx, `CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL); INSERT INTO pair VALUES (1, 0), (2, 0)`)
	require.NoError(t, err)

	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	attempts := make([]int, 2)
	run := func(i int, first, second int) error {
		return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			attempts[i]++
			if _, err := tx.Exec(ctx, `UPDATE pair SET v = v + 1 WHERE id = $1`, first); err != nil {
				return err
			}
			if attempts[i] == 1 {
				firstLocks.Done()
				firstLocks.Wait() // both hold their first row: the next step deadlocks
			}
			_, err := tx.Exec(ctx, `UPDATE pair SET v = v + 1 WHERE id = $1`, second)
			return err
		})
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = run(0, 1, 2) }()
	go func() { defer wg.Done(); errs[1] = run(1, 2, 1) }()
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	// PostgreSQL aborts one of them, or now and then both when their
	// deadlock checks run at the same moment; either way each ran again.
	assert.GreaterOrEqual(t, attempts[0]+attempts[1], 3, "an aborted transaction was run again")
	sum, err := queryOne(ctx, s, func(r row) (int, error) { var n int; err := r.Scan(&n); return n, err }, `SELECT sum(v) FROM pair`)
	require.NoError(t, err)
	assert.Equal(t, 4, sum, "both transactions took effect once each")
}

func TestConflictsThatPersistAreUnavailable(t *testing.T) {
	for _, code := range []string{"40001", "40P01"} {
		err := mapErr(&pgconn.PgError{Code: code})
		assert.ErrorIs(t, err, domain.ErrUnavailable, code)
	}
}
