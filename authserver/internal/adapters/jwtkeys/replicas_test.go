package jwtkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/postgres"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// Replicas share one key store; each reloads it on its own schedule. These
// tests run two KeySets on one PostgreSQL schema as two replicas, with one
// fake clock, so that "later" costs no real time.

const (
	maxTTL     = time.Hour
	staleness  = 20 * time.Second // two refresh intervals of 10 s
	pgTestHost = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

var (
	pgOnce sync.Once
	pgErr  error
)

// pgSchema returns a DSN for an empty schema of its own, dropped when the
// test ends. It skips the test when PostgreSQL is not reachable, unless CI
// is set, where that fails it.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("AUTHSERVER_POSTGRES_DSN")
	if dsn == "" {
		dsn = pgTestHost
	}
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	pgOnce.Do(func() { pgErr = admin("SELECT 1") })
	if pgErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL not reachable: %v", pgErr)
		}
		t.Skip("PostgreSQL not reachable; set AUTHSERVER_POSTGRES_DSN")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "keys_" + hex.EncodeToString(b)
	require.NoError(t, admin("CREATE SCHEMA "+schema))
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	if u, err := url.Parse(dsn); err == nil && strings.HasPrefix(u.Scheme, "postgres") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// pgStore opens a connection pool on dsn, as one replica does, migrated.
func pgStore(t *testing.T, dsn string, clock *storagetest.Clock) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 4}, clock.Now)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	_, err = s.Migrate(context.Background())
	require.NoError(t, err)
	return s
}

// flakyStore is a key store whose backend can be cut off, and which counts
// the loads it is asked for. While gate is open (not closed), loads wait.
type flakyStore struct {
	jwtkeys.Store
	down  atomic.Bool
	loads atomic.Int32
	gate  chan struct{}
}

var errDown = fmt.Errorf("flaky: connection refused: %w", domain.ErrUnavailable)

func (s *flakyStore) SigningKeys(ctx context.Context) ([]domain.SigningKey, error) {
	s.loads.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.SigningKeys(ctx)
}

func (s *flakyStore) AddSigningKey(ctx context.Context, k ...domain.SigningKey) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.AddSigningKey(ctx, k...)
}

func (s *flakyStore) DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.DeleteSigningKeys(ctx, retiredBefore)
}

// sharedBackends are the stores that several processes share: PostgreSQL
// (replicas, each with its own connection pool) and a key file (a server
// and `authserver keys rotate`). Each entry returns a function that opens
// one more process's store on the same keys.
var sharedBackends = []struct {
	name string
	open func(t *testing.T, clock *storagetest.Clock) func() jwtkeys.Store
}{
	{"postgres", func(t *testing.T, clock *storagetest.Clock) func() jwtkeys.Store {
		dsn := pgSchema(t)
		return func() jwtkeys.Store { return pgStore(t, dsn, clock) }
	}},
	{"key file", func(t *testing.T, _ *storagetest.Clock) func() jwtkeys.Store {
		path := filepath.Join(t.TempDir(), "keys.json")
		return func() jwtkeys.Store { return jwtkeys.NewFileStore(path) }
	}},
}

func forEachSharedBackend(t *testing.T, test func(t *testing.T, clock *storagetest.Clock, newStore func() jwtkeys.Store)) {
	for _, b := range sharedBackends {
		t.Run(b.name, func(t *testing.T) {
			clock := storagetest.NewClock()
			test(t, clock, b.open(t, clock))
		})
	}
}

func openReplica(t *testing.T, store jwtkeys.Store, clock *storagetest.Clock) *jwtkeys.KeySet {
	t.Helper()
	ks, err := jwtkeys.Open(context.Background(), store, jwtkeys.Options{
		Algorithm: jwtkeys.ES256, Issuer: issuer, MaxTokenTTL: maxTTL, MaxStaleness: staleness, Clock: clock.Now,
	})
	require.NoError(t, err)
	return ks
}

// longToken is an access token that lives as long as any may.
func longToken(now time.Time) domain.AccessToken {
	t := sampleToken(now)
	t.IssuedAt, t.ExpiresAt = now.Truncate(time.Second), now.Add(maxTTL).Truncate(time.Second).Add(time.Second)
	return t
}

func kidOf(t *testing.T, token string) string {
	kid, _ := segment(t, token, 0)["kid"].(string)
	return kid
}

func jwksKids(t *testing.T, ks *jwtkeys.KeySet) []string {
	var doc struct{ Keys []struct{ Kid string } }
	require.NoError(t, json.Unmarshal(ks.JWKS(), &doc))
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func storedKids(t *testing.T, s jwtkeys.Store) []string {
	keys, err := s.SigningKeys(context.Background())
	require.NoError(t, err)
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.ID)
	}
	return kids
}

// A replica cut off from the store just after another one rotated keeps
// signing with the retired key until its view is MaxStaleness old, and no
// longer; every token it signed meanwhile verifies everywhere until its exp.
func TestLaggingReplicaTokensLiveUntilExp(t *testing.T) {
	forEachSharedBackend(t, testLaggingReplica)
}

func testLaggingReplica(t *testing.T, clock *storagetest.Clock, newStore func() jwtkeys.Store) {
	ctx := context.Background()
	storeA := newStore()
	storeB := &flakyStore{Store: newStore()}
	a := openReplica(t, storeA, clock)
	b := openReplica(t, storeB, clock) // loads at t0
	oldKid := a.SignerID()
	require.Equal(t, oldKid, b.SignerID())

	clock.Advance(time.Second)
	retiredAt := clock.Now()
	newKid, err := a.Rotate(ctx)
	require.NoError(t, err)
	storeB.down.Store(true) // b lags: it cannot reload

	// Right before b's staleness bound, b still signs with the old key.
	clock.Advance(staleness - 2*time.Second) // t0+S-1s
	late, err := b.SignAccessToken(ctx, longToken(clock.Now()))
	require.NoError(t, err, "within its staleness bound a lagging replica signs")
	require.Equal(t, oldKid, kidOf(t, late))
	lateExp := longToken(clock.Now()).ExpiresAt

	// Past the bound it refuses, rather than sign with a key that may be
	// gone before the token expires.
	clock.Advance(2 * time.Second) // t0+S+1s
	_, err = b.SignAccessToken(ctx, longToken(clock.Now()))
	assert.ErrorIs(t, err, domain.ErrUnavailable, "a replica whose keys are older than the bound does not sign")

	// The up-to-date replica keeps the old key, in its JWKS and in the
	// store, until the late token has expired.
	clock.Advance(lateExp.Sub(clock.Now()) - time.Second)
	require.NoError(t, a.Refresh(ctx))
	_, err = a.VerifyAccessToken(ctx, late)
	assert.NoError(t, err, "a token the lagging replica signed verifies until its exp")
	assert.Contains(t, jwksKids(t, a), oldKid)
	assert.Contains(t, storedKids(t, storeA), oldKid)

	// Not deleted before retired_at + MaxTokenTTL + MaxStaleness either.
	clock.Advance(retiredAt.Add(maxTTL + staleness).Sub(clock.Now()))
	require.NoError(t, a.Refresh(ctx))
	assert.Contains(t, storedKids(t, storeA), oldKid, "kept until retired_at + MaxTokenTTL + MaxStaleness")

	// Well after that, it goes.
	clock.Advance(5 * time.Second)
	require.NoError(t, a.Refresh(ctx))
	for _, kids := range [][]string{jwksKids(t, a), storedKids(t, storeA)} {
		assert.Len(t, kids, 2, "the new generation: the ES256 and the RS256 key")
		assert.Contains(t, kids, newKid)
		assert.NotContains(t, kids, oldKid)
	}

	// Back in touch, b reloads when it next signs, and signs with the new key.
	storeB.down.Store(false)
	tok, err := b.SignAccessToken(ctx, longToken(clock.Now()))
	require.NoError(t, err)
	assert.Equal(t, newKid, kidOf(t, tok))
}

// A replica that just did not reload (its ticker is late, nothing failed)
// reloads when it signs past its staleness bound, and signs with the key
// the store has now.
func TestReplicaPastStalenessReloadsBeforeSigning(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, clock *storagetest.Clock, newStore func() jwtkeys.Store) {
		ctx := context.Background()
		a := openReplica(t, newStore(), clock)
		b := openReplica(t, newStore(), clock)
		clock.Advance(time.Second)
		newKid, err := a.Rotate(ctx)
		require.NoError(t, err)

		clock.Advance(staleness)
		tok, err := b.SignAccessToken(ctx, longToken(clock.Now()))
		require.NoError(t, err)
		assert.Equal(t, newKid, kidOf(t, tok))
	})
}

// A token with a kid this replica has not loaded yet, met while the store
// is down, cannot be judged: that is "unavailable", not "not a token".
func TestUnknownKidDuringOutageIsUnavailable(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	dsn := pgSchema(t)
	a := openReplica(t, pgStore(t, dsn, clock), clock)
	pgB := pgStore(t, dsn, clock)
	storeB := &flakyStore{Store: pgB}
	b := openReplica(t, storeB, clock)

	clock.Advance(time.Second)
	_, err := a.Rotate(ctx)
	require.NoError(t, err)
	tok, err := a.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)

	// A real outage: b's connection pool is gone.
	pgB.Close()
	clock.Advance(2 * time.Second) // past the reload rate limit
	_, err = b.VerifyAccessToken(ctx, tok)
	assert.ErrorIs(t, err, domain.ErrUnavailable, "the reload failed: unknown whether the token is ours")
	assert.NotErrorIs(t, err, jwtkeys.ErrInvalidToken)

	// Within the rate limit no reload is tried, but the outage is known.
	loads := storeB.loads.Load()
	_, err = b.VerifyAccessToken(ctx, tok)
	assert.ErrorIs(t, err, domain.ErrUnavailable, "rate-limited during a known outage: still unavailable")
	assert.Equal(t, loads, storeB.loads.Load(), "at most one reload a second")

	// A token of a key b knows still verifies meanwhile.
	known, err := b.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)
	_, err = b.VerifyAccessToken(ctx, known)
	assert.NoError(t, err)
}

// The same through the flaky store: a failed periodic reload makes the
// outage known, and recovery makes the unknown kid verify.
func TestUnknownKidAfterFailedRefresh(t *testing.T) {
	forEachSharedBackend(t, testUnknownKidAfterFailedRefresh)
}

func testUnknownKidAfterFailedRefresh(t *testing.T, clock *storagetest.Clock, newStore func() jwtkeys.Store) {
	ctx := context.Background()
	a := openReplica(t, newStore(), clock)
	storeB := &flakyStore{Store: newStore()}
	b := openReplica(t, storeB, clock)

	clock.Advance(time.Second)
	_, err := a.Rotate(ctx)
	require.NoError(t, err)
	tok, err := a.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)

	storeB.down.Store(true)
	clock.Advance(2 * time.Second)
	require.ErrorIs(t, b.Refresh(ctx), domain.ErrUnavailable)
	_, err = b.VerifyAccessToken(ctx, tok)
	assert.ErrorIs(t, err, domain.ErrUnavailable, "unknown kid right after a failed reload")

	storeB.down.Store(false)
	clock.Advance(2 * time.Second)
	_, err = b.VerifyAccessToken(ctx, tok)
	assert.NoError(t, err, "back up: the reload finds the key")

	// And a kid that is really unknown is, once the store answers, invalid.
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	junk := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": issuer, "jti": "x", "client_id": "c", "exp": clock.Now().Add(time.Hour).Unix()})
	junk.Header["typ"], junk.Header["kid"] = jwtkeys.TokenType, "no-such-key"
	raw, err := junk.SignedString(foreign)
	require.NoError(t, err)
	clock.Advance(2 * time.Second)
	_, err = b.VerifyAccessToken(ctx, raw)
	assert.ErrorIs(t, err, jwtkeys.ErrInvalidToken)
	assert.NotErrorIs(t, err, domain.ErrUnavailable)
}

// Requests that meet an unknown kid while the one reload allowed this second
// is under way, and failing, wait for it and learn of the outage: none is
// told "not a token" in the meantime.
func TestConcurrentUnknownKidsShareOneFailingReload(t *testing.T) {
	forEachSharedBackend(t, func(t *testing.T, clock *storagetest.Clock, newStore func() jwtkeys.Store) {
		ctx := context.Background()
		a := openReplica(t, newStore(), clock)
		storeB := &flakyStore{Store: newStore()}
		b := openReplica(t, storeB, clock)
		clock.Advance(time.Second)
		_, err := a.Rotate(ctx)
		require.NoError(t, err)
		tok, err := a.SignAccessToken(ctx, sampleToken(clock.Now()))
		require.NoError(t, err)

		storeB.down.Store(true)
		gate := make(chan struct{})
		var open sync.Once
		t.Cleanup(func() { open.Do(func() { close(gate) }) })
		storeB.gate = gate
		loads := storeB.loads.Load()
		clock.Advance(2 * time.Second)
		const n = 16
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := b.VerifyAccessToken(ctx, tok)
				errs <- err
			}()
		}
		require.Eventually(t, func() bool { return storeB.loads.Load() > loads }, 5*time.Second, time.Millisecond)
		time.Sleep(20 * time.Millisecond) // let the others reach the rate limit
		open.Do(func() { close(gate) })
		for range n {
			assert.ErrorIs(t, <-errs, domain.ErrUnavailable)
		}
		assert.Equal(t, loads+1, storeB.loads.Load(), "one reload for all of them")
	})
}

// With a staleness bound under a second (a short refresh interval), the
// reload rate limit is shorter still, so stale keys can be reloaded.
func TestShortStalenessBoundStillReloads(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	ks, err := jwtkeys.Open(ctx, jwtkeys.NewFileStore(filepath.Join(t.TempDir(), "keys.json")), jwtkeys.Options{
		Issuer: issuer, MaxTokenTTL: maxTTL, MaxStaleness: 100 * time.Millisecond, Clock: clock.Now,
	})
	require.NoError(t, err)
	clock.Advance(150 * time.Millisecond)
	_, err = ks.SignAccessToken(ctx, sampleToken(clock.Now()))
	assert.NoError(t, err)
}
