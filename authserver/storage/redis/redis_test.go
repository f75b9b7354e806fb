package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

const defaultURL = "redis://127.0.0.1:6379/0"

var (
	reachOnce sync.Once
	reachErr  error
)

// testURL returns the Redis to test against, skipping the test (or failing
// it under CI) when there is none.
func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("AUTHSERVER_REDIS_URL")
	if u == "" {
		u = defaultURL
	}
	reachOnce.Do(func() {
		opt, err := goredis.ParseURL(u)
		if err != nil {
			reachErr = err
			return
		}
		c := goredis.NewClient(opt)
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), generous)
		defer cancel()
		reachErr = c.Ping(ctx).Err()
	})
	if reachErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis not reachable at %s: %v", redact(u), reachErr)
		}
		t.Skipf("Redis not reachable at %s; set AUTHSERVER_REDIS_URL", redact(u))
	}
	return u
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the configured URL"
	}
	return u.Redacted()
}

// Bounds. generous is every call that must succeed: far above what one
// takes on a loaded machine (a down server refuses at once). fast is a
// failure that must not wait long: the server refuses, the client is
// closed, or a short timeout fires; it leaves room for any load.
const (
	generous = 30 * time.Second
	fast     = 10 * time.Second
)

// newStore returns a store under a key prefix of its own, whose keys are
// deleted when the test ends.
func newStore(t *testing.T, clock *storagetest.Clock) *Store {
	t.Helper()
	u := testURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "authserver-test:" + hex.EncodeToString(b) + ":"
	s, err := Open(context.Background(), Config{URL: u, KeyPrefix: prefix, Timeout: generous}, clock.Now)
	require.NoError(t, err)
	t.Cleanup(func() {
		// redis_rate puts "rate:" before the keys it is given.
		for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
			if err := deleteKeys(s, pattern); err != nil {
				t.Errorf("deleting test keys %s: %v", pattern, err)
			}
		}
		s.Close()
	})
	return s
}

func deleteKeys(s *Store, pattern string) error {
	ctx := context.Background()
	var keys []string
	iter := s.client.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil || len(keys) == 0 {
		return err
	}
	return s.client.Del(ctx, keys...).Err()
}

func TestConformance(t *testing.T) {
	testURL(t)
	t.Run("codes", func(t *testing.T) {
		storagetest.RunCodes(t, func(t *testing.T, c *storagetest.Clock) app.CodeStore { return newStore(t, c) })
	})
	t.Run("sessions", func(t *testing.T) {
		storagetest.RunSessions(t, func(t *testing.T, c *storagetest.Clock) app.SessionStore { return newStore(t, c) })
	})
	t.Run("revocations", func(t *testing.T) {
		storagetest.RunRevocations(t, func(t *testing.T, c *storagetest.Clock) app.RevocationStore { return newStore(t, c) })
	})
	t.Run("limiter", func(t *testing.T) {
		storagetest.RunLimiter(t, func(t *testing.T, c *storagetest.Clock) app.Limiter {
			return newStore(t, c).Limiter(storagetest.LimitPolicy)
		})
	})
	t.Run("rate limiter", func(t *testing.T) {
		// Redis keeps the time itself (TIME in the script): the clock
		// is not used.
		storagetest.RunRateLimiter(t, false, func(t *testing.T, c *storagetest.Clock) storagetest.RateLimiter {
			return newStore(t, c).RateLimiter()
		})
	})
}

func TestDownRedisIsUnavailableFast(t *testing.T) {
	ctx := context.Background()
	t.Run("nothing listening", func(t *testing.T) {
		start := time.Now()
		_, err := Open(ctx, Config{URL: "redis://127.0.0.1:1/0"}, time.Now)
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
	})
	t.Run("closed client", func(t *testing.T) {
		s, err := Open(ctx, Config{URL: testURL(t)}, time.Now)
		require.NoError(t, err)
		s.Close()
		start := time.Now()
		_, err = s.FindSession(ctx, "s")
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
	})
	t.Run("a call past the timeout", func(t *testing.T) {
		s := newStore(t, storagetest.NewClock())
		opTimeout := s.conn.Timeout
		s.conn.Timeout = 200 * time.Millisecond
		start := time.Now()
		// BLPOP on an empty list blocks the way a hung server would, for a
		// minute: however late the timeout fires, it fires first.
		err := mapErr(s.client.BLPop(boundCtx(t, s), time.Minute, s.prefix+"nothing").Err())
		assert.ErrorIs(t, err, domain.ErrUnavailable)
		assert.Less(t, time.Since(start), fast)
		s.conn.Timeout = opTimeout
		require.NoError(t, s.Ping(ctx), "the client recovers")
	})
}

func boundCtx(t *testing.T, s *Store) context.Context {
	ctx, cancel := s.bound(context.Background())
	t.Cleanup(cancel)
	return ctx
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error // nil: none of the sentinels
	}{
		{"nil reply", goredis.Nil, domain.ErrNotFound},
		{"closed client", goredis.ErrClosed, domain.ErrUnavailable},
		{"pool timeout", goredis.ErrPoolTimeout, domain.ErrUnavailable},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), domain.ErrUnavailable},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, domain.ErrUnavailable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), domain.ErrUnavailable},
		{"anything else", errors.New("ERR wrong number of arguments"), nil},
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

// A real Redis answers LOADING, READONLY and max-clients as error replies;
// they must read as unavailable too.
func TestServerStateErrorsAreUnavailable(t *testing.T) {
	s := newStore(t, storagetest.NewClock())
	for _, reply := range []string{"LOADING Redis is loading the dataset in memory", "READONLY You can't write against a read only replica."} {
		err := s.client.Eval(boundCtx(t, s), `return redis.error_reply(ARGV[1])`, nil, reply).Err()
		require.Error(t, err)
		assert.ErrorIs(t, mapErr(err), domain.ErrUnavailable, reply)
	}
}

func TestKeysExpireWithTheirEntries(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	s := newStore(t, clock)
	now := clock.Now()
	pttl := func(key string) time.Duration {
		d, err := s.client.PTTL(ctx, key).Result()
		require.NoError(t, err)
		return d
	}

	require.NoError(t, s.CreateCode(ctx, domain.AuthorizationCode{Hash: "c", ExpiresAt: now.Add(time.Minute)}))
	_, _, err := s.ClaimCode(ctx, "c", "a1", now.Add(10*time.Second))
	require.NoError(t, err)
	require.NoError(t, s.SettleCode(ctx, "c", "a1", true))
	assert.InDelta(t, time.Minute, pttl(s.codeKey("c")), float64(2*time.Second), "claiming and settling keep the TTL")

	require.NoError(t, s.CreateSession(ctx, domain.Session{Hash: "s", ExpiresAt: now.Add(time.Hour)}))
	assert.InDelta(t, time.Hour, pttl(s.sessionKey("s")), float64(2*time.Second))

	require.NoError(t, s.Revoke(ctx, "jti:x", now, now.Add(30*time.Second)))
	assert.InDelta(t, 30*time.Second, pttl(s.revokedKey("jti:x")), float64(2*time.Second))
	require.NoError(t, s.Revoke(ctx, "jti:x", now, now.Add(90*time.Second)))
	assert.InDelta(t, 90*time.Second, pttl(s.revokedKey("jti:x")), float64(2*time.Second), "a wider mark lives longer")
	require.NoError(t, s.Revoke(ctx, "jti:x", now, now.Add(10*time.Second)))
	assert.InDelta(t, 90*time.Second, pttl(s.revokedKey("jti:x")), float64(2*time.Second), "and never shorter")

	l := s.Limiter(storagetest.LimitPolicy)
	key := app.LimitKey{Kind: app.LimitAccount, Subject: "a"}
	require.NoError(t, l.Reserve(ctx, key))
	require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
	assert.InDelta(t, time.Minute, pttl(s.limitKey(key.String())), float64(2*time.Second), "a failure lives a window")
	clock.Advance(40 * time.Second)
	require.NoError(t, l.Reserve(ctx, key))
	require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
	assert.InDelta(t, time.Minute, pttl(s.limitKey(key.String())), float64(2*time.Second), "a later failure extends it")
	other := app.LimitKey{Kind: app.LimitAccount, Subject: "b"}
	require.NoError(t, l.Reserve(ctx, other))
	require.NoError(t, l.Settle(ctx, domain.AttemptSucceeded, other))
	n, err := s.client.Exists(ctx, s.limitKey(other.String())).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "a counter that settles back to nothing is deleted")
}

func TestValuesAreJSON(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	s := newStore(t, clock)
	now := clock.Now()
	c := domain.AuthorizationCode{Hash: "c", ClientID: "app", Scope: domain.NewScope("a"), IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	require.NoError(t, s.CreateCode(ctx, c))
	raw, err := s.client.HGet(ctx, s.codeKey("c"), "rec").Result()
	require.NoError(t, err)
	var rec codeRecord
	require.NoError(t, json.Unmarshal([]byte(raw), &rec), "what a code was issued for is JSON")
	assert.Equal(t, "app", rec.ClientID)

	require.NoError(t, s.Revoke(ctx, "g", now, now.Add(time.Minute)))
	raw, err = s.client.Get(ctx, s.revokedKey("g")).Result()
	require.NoError(t, err)
	var m markRecord
	require.NoError(t, json.Unmarshal([]byte(raw), &m))
	assert.Equal(t, markRecord{AtMicros: now.UnixMicro(), UntilMicros: now.Add(time.Minute).UnixMicro()}, m, "microseconds survive the script exactly")
}

func TestCreateCodeConflict(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	s := newStore(t, clock)
	c := domain.AuthorizationCode{Hash: "c", ExpiresAt: clock.Now().Add(time.Minute)}
	require.NoError(t, s.CreateCode(ctx, c))
	assert.ErrorIs(t, s.CreateCode(ctx, c), domain.ErrConflict)
}
