package authserver_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage"
)

// The guarantees of the README's "What holds under races and faults", raced
// over HTTP with the real clock, on memory and on PostgreSQL with the
// expiring groups in Redis. Each race is run many times: one run proves
// little, fifty catch an interleaving that breaks it.

const raceRounds = 50

// backends are the storage set-ups every race runs on.
func backends() map[string]func(t *testing.T) []authserver.Option {
	return map[string]func(t *testing.T) []authserver.Option{
		"memory": func(*testing.T) []authserver.Option { return nil },
		"postgres+redis": func(t *testing.T) []authserver.Option {
			opt, _ := durableStorage(t, "", 0, 0)
			return []authserver.Option{opt}
		},
	}
}

// durableStorage places everything in a fresh PostgreSQL database of its
// own, with codes, sessions and rate limits in Redis (redisURL, else the
// shared server) under a key prefix of its own, and returns the database's
// DSN too. Zero timeouts are generous ones.
func durableStorage(t *testing.T, redisURL string, queryTimeout, redisTimeout time.Duration) (authserver.Option, string) {
	t.Helper()
	dsn := faulttest.NewDatabase(t)
	if redisURL == "" {
		redisURL = envOr("AUTHSERVER_REDIS_URL", "redis://127.0.0.1:6379/0")
	}
	// Calls that must succeed get bounds a loaded machine cannot reach; a
	// test about a timeout passes its own.
	if queryTimeout == 0 {
		queryTimeout = 30 * time.Second
	}
	if redisTimeout == 0 {
		redisTimeout = 30 * time.Second
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return placed(t, storage.Config{
		Default: storage.Postgres,
		Groups: map[storage.Group]storage.Backend{
			storage.Codes: storage.Redis, storage.Sessions: storage.Redis, storage.RateLimits: storage.Redis,
		},
		Postgres:       storage.PostgresConfig{DSN: dsn, MaxConns: 8, QueryTimeout: queryTimeout, Migrate: true},
		Redis:          storage.RedisConfig{URL: redisURL, KeyPrefix: "races:" + hex.EncodeToString(b) + ":", Timeout: redisTimeout},
		ConnectTimeout: 10 * time.Second,
		ClientCacheTTL: time.Second,
	}), dsn
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// tokens is what a token response hands out.
type tokens struct{ access, refresh string }

func tokensOf(r reply) tokens {
	t := tokens{}
	t.access, _ = r.body["access_token"].(string)
	t.refresh, _ = r.body["refresh_token"].(string)
	return t
}

// alive reports whether anything of tk still works: its access token
// introspects active, or its refresh token is active for its client.
func (ts *testServer) alive(t *testing.T, tk tokens) bool {
	t.Helper()
	r := ts.post(t, "/oauth/introspect", url.Values{"token": {tk.access}}, "resourceserver", "resourceserver-secret")
	require.Equal(t, 200, r.status, r.raw)
	if r.body["active"] == true {
		return true
	}
	if tk.refresh == "" {
		return false
	}
	r = ts.post(t, "/oauth/introspect", url.Values{"token": {tk.refresh}}, browserClient, browserSecret)
	require.Equal(t, 200, r.status, r.raw)
	return r.body["active"] == true
}

func (ts *testServer) exchangeCode(t *testing.T, code string) reply {
	return ts.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callback}, "code_verifier": {pkceVerifier}}, browserClient, browserSecret)
}

func (ts *testServer) refresh(t *testing.T, token string) reply {
	return ts.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, browserClient, browserSecret)
}

// signedIn is a browser signed in as alice whose consent is given.
func signedIn(t *testing.T, ts *testServer) *browser {
	b := newBrowser(t, ts)
	b.Login(authorizeQuery(nil))
	approveAgain(t, b)
	return b
}

// both runs f and g at once.
func both(f, g func()) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f() }()
	go func() { defer wg.Done(); g() }()
	wg.Wait()
}

func TestRaceCodeReplayedDuringItsExchange(t *testing.T) {
	for name, storage := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, storage(t)...)
			b := signedIn(t, ts)
			for round := 0; round < raceRounds; round++ {
				code := approveAgain(t, b)
				var r1, r2 reply
				both(func() { r1 = ts.exchangeCode(t, code) }, func() { r2 = ts.exchangeCode(t, code) })
				for _, r := range []reply{r1, r2} {
					require.Contains(t, []int{200, 400}, r.status, "round %d: %s", round, r.raw)
					if r.status == 200 {
						assert.False(t, ts.alive(t, tokensOf(r)), "round %d: the code was presented twice, so what it bought is revoked", round)
					}
				}
				require.False(t, r1.status == 200 && r2.status == 200, "round %d: a code buys tokens once", round)
			}
		})
	}
}

func TestRaceRevocationDuringRotation(t *testing.T) {
	for name, storage := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, storage(t)...)
			b := signedIn(t, ts)
			for round := 0; round < raceRounds; round++ {
				cur := tokensOf(ts.exchangeCode(t, approveAgain(t, b)))
				var rotated, revoked reply
				both(func() { rotated = ts.refresh(t, cur.refresh) },
					func() {
						revoked = ts.post(t, "/oauth/revoke", url.Values{"token": {cur.refresh}, "token_type_hint": {"refresh_token"}}, browserClient, browserSecret)
					})
				require.Equal(t, 200, revoked.status, revoked.raw)
				if rotated.status == 200 {
					assert.False(t, ts.alive(t, tokensOf(rotated)), "round %d: the successor is revoked with its family (RFC 7009 §2.1)", round)
				}
			}
		})
	}
}

func TestRaceReuseDuringRotation(t *testing.T) {
	for name, storage := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, storage(t)...)
			b := signedIn(t, ts)
			for round := 0; round < raceRounds; round++ {
				first := tokensOf(ts.exchangeCode(t, approveAgain(t, b)))
				second := tokensOf(ts.refresh(t, first.refresh))
				var rotated reply
				// The client rotates its current token while a thief replays
				// the retired one.
				both(func() { rotated = ts.refresh(t, second.refresh) }, func() { ts.refresh(t, first.refresh) })
				if rotated.status == 200 {
					assert.False(t, ts.alive(t, tokensOf(rotated)), "round %d: the successor dies with its family (RFC 9700 §4.14.2)", round)
				}
				assert.False(t, ts.alive(t, second), "round %d", round)
			}
		})
	}
}

// TestFailedTokenWriteLeavesTheCodeUsable locks the refresh token table, so
// storing the tokens of a code exchange times out: the client is told to
// retry (503), and the retry works.
func TestFailedTokenWriteLeavesTheCodeUsable(t *testing.T) {
	storage, dsn := durableStorage(t, "", 500*time.Millisecond, 0)
	ts := start(t, storage)
	b := signedIn(t, ts)
	code := approveAgain(t, b)

	release := faulttest.LockTable(t, dsn, "refresh_tokens")
	failed := ts.exchangeCode(t, code)
	release()
	require.Equal(t, 503, failed.status, failed.raw)
	assert.Equal(t, "temporarily_unavailable", failed.body["error"])
	assert.NotEmpty(t, failed.header.Get("Retry-After"))

	retried := ts.exchangeCode(t, code)
	require.Equal(t, 200, retried.status, "the code was not burned: %s", retried.raw)
	assert.True(t, ts.alive(t, tokensOf(retried)))
}

// TestCodeExchangeUnderAPausedRedis pauses the Redis that holds codes for
// longer than redis.timeout while a first-time exchange runs. The exchange
// may fail (503), but the calls Redis runs when it wakes must not use the
// code up behind the client's back: the retry succeeds.
func TestCodeExchangeUnderAPausedRedis(t *testing.T) {
	rd := faulttest.StartRedis(t, faulttest.RedisOptions{})
	storage, _ := durableStorage(t, rd.URL(), 0, time.Second)
	ts := start(t, storage)
	b := signedIn(t, ts)
	for round := 0; round < 4; round++ {
		code := approveAgain(t, b)
		rd.Pause()
		resumed := make(chan struct{})
		go func() {
			defer close(resumed)
			time.Sleep(1500 * time.Millisecond) // past the 1 s bound: the exchange gives up first
			rd.Resume()
		}()
		first := ts.exchangeCode(t, code)
		<-resumed
		if first.status == 200 {
			assert.True(t, ts.alive(t, tokensOf(first)), "round %d", round)
			continue
		}
		require.Equal(t, 503, first.status, "round %d: an outage, not a refusal: %s", round, first.raw)
		wait, err := strconv.Atoi(first.header.Get("Retry-After"))
		require.NoError(t, err)
		require.LessOrEqual(t, wait, int(app.CodeClaimTTL/time.Second))
		time.Sleep(time.Duration(wait) * time.Second)
		retried := ts.exchangeCode(t, code)
		require.Equal(t, 200, retried.status, "round %d: the retry redeems the code: %s", round, retried.raw)
		assert.True(t, ts.alive(t, tokensOf(retried)), "round %d", round)
	}
}
