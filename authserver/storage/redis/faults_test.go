package redis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// openPrivate opens a store on a private Redis with the given timeout.
func openPrivate(t *testing.T, r *faulttest.Redis, timeout time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: r.URL(), Timeout: timeout}, time.Now)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// A Redis that stalls (SIGSTOP: connections open, nothing answers) fails
// every kind of call with ErrUnavailable within the configured timeout,
// dial, write, read and all, not a multiple of it.
func TestACallIsBoundedByTheTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	const slack = time.Second // scheduling on a loaded machine
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	s := openPrivate(t, r, timeout)
	l := s.Limiter(storagetest.LimitPolicy)
	key := app.LimitKey{Kind: app.LimitSource, Subject: "a"}
	rl := s.RateLimiter()
	ctx := context.Background()
	now := time.Now()

	calls := map[string]func() error{
		"ping":            func() error { return s.Ping(ctx) },
		"read (MGET)":     func() error { _, err := s.Revoked(ctx, now, "jti:a", "gid:b"); return err },
		"script":          func() error { return s.Revoke(ctx, "jti:a", now, now.Add(time.Minute)) },
		"limiter reserve": func() error { return l.Reserve(ctx, key) },
		"limiter settle":  func() error { return l.Settle(ctx, domain.AttemptFailed, key) },
		"read (GET)":      func() error { _, err := s.FindSession(ctx, "s"); return err },
		"rate limiter": func() error {
			_, err := rl.Allow(ctx, "source:192.0.2.1", domain.RateLimit{PerSecond: 1000, Burst: 1000})
			return err
		},
	}
	// Load the scripts and fill the pool with a connection per call, so
	// that the stalled calls below write and wait on live connections.
	all := func(check func(name string, err error, took time.Duration)) {
		var wg sync.WaitGroup
		for name, call := range calls {
			wg.Go(func() {
				start := time.Now()
				err := call()
				check(name, err, time.Since(start))
			})
		}
		wg.Wait()
	}
	all(func(name string, err error, _ time.Duration) { assert.NoError(t, ignoreNotFound(err), name) })
	// And a store whose one connection will be taken: its second call dials.
	fresh := openPrivate(t, r, timeout)

	r.Pause()
	t.Cleanup(r.Resume)
	calls["new dial"] = func() error { return fresh.Ping(ctx) }
	calls["new dial, second"] = func() error { _, err := fresh.Revoked(ctx, now, "jti:a"); return err }
	all(func(name string, err error, took time.Duration) {
		assert.ErrorIs(t, err, domain.ErrUnavailable, name)
		assert.Less(t, took, timeout+slack, "%s: bounded by redis.timeout (%s)", name, timeout)
	})
}

func ignoreNotFound(err error) error {
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	return err
}

// A call that times out is not sent again: a script that timed out may
// still run when Redis wakes up, and a second copy would apply it twice
// (two failed logins counted for one, a code redeemed by the retry of its
// own first exchange).
func TestAScriptRunsAtMostOncePerCall(t *testing.T) {
	const timeout = time.Second
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	s := openPrivate(t, r, timeout)
	l := s.Limiter(storagetest.LimitPolicy)
	key := app.LimitKey{Kind: app.LimitSource, Subject: "a"}
	ctx := context.Background()
	for range 3 {
		require.NoError(t, l.Reserve(ctx, key), "three attempts in flight")
	}
	require.NoError(t, l.Settle(ctx, domain.AttemptCancelled, key), "loads the script: one taken back")

	r.Pause()
	done := make(chan error, 1)
	go func() { done <- l.Settle(ctx, domain.AttemptCancelled, key) }()
	// Resume after the first attempt has timed out but while a retry would
	// still be waiting for its answer.
	time.Sleep(timeout * 3 / 2)
	r.Resume()
	err := <-done
	if err != nil {
		assert.ErrorIs(t, err, domain.ErrUnavailable)
	}

	// Whatever was sent has run once Redis answers a later command on a new
	// connection of the test's own: each run of the settlement takes one
	// attempt back.
	f, err := r.Client().HGet(ctx, s.limitKey(key.String()), "f").Int()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, f, 1, "the stalled settlement took at most one attempt back")
}

// TestLateReservationsCountNothing: a reservation Redis runs only after its
// caller gave up (Redis was paused) counts nothing: the caller was told the
// limiter is unavailable, and its attempt never ran.
func TestLateReservationsCountNothing(t *testing.T) {
	const timeout = time.Second
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	s := openPrivate(t, r, timeout)
	l := s.Limiter(storagetest.LimitPolicy)
	key := app.LimitKey{Kind: app.LimitSource, Subject: "late"}
	ctx := context.Background()
	warm := app.LimitKey{Kind: app.LimitSource, Subject: "warm-up"}
	require.NoError(t, l.Reserve(ctx, warm), "loads the script")

	r.Pause()
	done := make(chan error, 1)
	go func() { done <- l.Reserve(ctx, key) }()
	time.Sleep(timeout * 3 / 2) // the call has timed out; Redis still holds it
	r.Resume()
	assert.ErrorIs(t, <-done, domain.ErrUnavailable)
	n, err := r.Client().Exists(ctx, s.limitKey(key.String())).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the late reservation counted nothing")
}

// TestLateCodeCallsHaveNoEffect: a claim or a used-settlement that Redis
// runs only after its caller gave up (Redis was paused) must not claim or
// use the code behind the caller's back, or the client's retry would be
// refused as a replay (see app.CodeStore).
func TestLateCodeCallsHaveNoEffect(t *testing.T) {
	const timeout = time.Second
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	s := openPrivate(t, r, timeout)
	ctx := context.Background()
	now := time.Now()
	c := domain.AuthorizationCode{Hash: "late", ClientID: "c", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	require.NoError(t, s.CreateCode(ctx, c))
	// Load both scripts while Redis answers, so the stalled calls are one
	// EVALSHA each.
	_, _, err := s.ClaimCode(ctx, "late", "warm-up", now.Add(time.Second))
	require.NoError(t, err)
	require.NoError(t, s.SettleCode(ctx, "late", "warm-up", false))
	assert.ErrorIs(t, s.SettleCode(ctx, "late", "nobody", true), domain.ErrClaimLost, "loads the settle script")

	stalled := func(call func() error) {
		r.Pause()
		done := make(chan error, 1)
		go func() { done <- call() }()
		time.Sleep(timeout * 3 / 2) // the call has timed out; Redis still holds it
		r.Resume()
		assert.ErrorIs(t, <-done, domain.ErrUnavailable)
	}

	stalled(func() error {
		_, _, err := s.ClaimCode(ctx, "late", "gave-up", now.Add(time.Minute))
		return err
	})
	_, granted, err := s.ClaimCode(ctx, "late", "retry", now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, granted, "the claim that ran late did not hold the code")

	stalled(func() error { return s.SettleCode(ctx, "late", "retry", true) })
	got, granted, err := s.ClaimCode(ctx, "late", "retry", now.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, granted, "still this attempt's to settle again")
	assert.False(t, got.Used, "the settlement that ran late did not use the code")
}
