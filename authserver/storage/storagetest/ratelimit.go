package storagetest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RateLimiter is what a request rate limiter backend offers: the port the
// HTTP edge declares (httpapi.RateLimiter).
type RateLimiter interface {
	// Allow takes one request from key's bucket.
	Allow(ctx context.Context, key string, limit domain.RateLimit) (domain.RateDecision, error)
}

// RunRateLimiter tests a request rate limiter. A backend whose buckets run
// on the clock it is given says clockDriven, and its refill is tested by
// moving that clock. One that keeps time itself (Redis's TIME) gets rates
// so slow that real time hardly moves them, and one real wait of at most a
// second.
func RunRateLimiter(t *testing.T, clockDriven bool, newLimiter func(t *testing.T, clock *Clock) RateLimiter) {
	ctx := context.Background()
	// One request per 1000 s: nothing refills while a test runs.
	slow := func(burst int) domain.RateLimit { return domain.RateLimit{PerSecond: 0.001, Burst: burst} }
	// Real time a backend with its own clock may see pass between two
	// calls of one test: the decisions' durations may be off by that much.
	slack := time.Duration(0)
	if !clockDriven {
		slack = 5 * time.Second
	}
	allow := func(t *testing.T, l RateLimiter, key string, limit domain.RateLimit) domain.RateDecision {
		t.Helper()
		d, err := l.Allow(ctx, key, limit)
		require.NoError(t, err)
		return d
	}

	t.Run("a new key has its whole burst, then waits", func(t *testing.T) {
		l, key := newLimiter(t, NewClock()), uniq("burst")
		for i := range 5 {
			d := allow(t, l, key, slow(5))
			require.True(t, d.Allowed, "request %d", i+1)
			assert.Equal(t, 4-i, d.Remaining, "request %d", i+1)
			assert.Zero(t, d.RetryAfter, "an allowed request has nothing to wait for")
			assert.InDelta(t, float64(time.Duration(i+1)*1000*time.Second), float64(d.ResetAfter), float64(slack+time.Millisecond),
				"full again once every spent request is earned back")
		}
		d := allow(t, l, key, slow(5))
		assert.False(t, d.Allowed, "past the burst")
		assert.Zero(t, d.Remaining)
		assert.InDelta(t, float64(1000*time.Second), float64(d.RetryAfter), float64(slack+time.Millisecond), "one request's worth")
		again := allow(t, l, key, slow(5))
		assert.False(t, again.Allowed)
		assert.LessOrEqual(t, again.RetryAfter, d.RetryAfter, "a refused request spends nothing")
	})

	t.Run("keys are independent", func(t *testing.T) {
		l, key, other := newLimiter(t, NewClock()), uniq("one"), uniq("other")
		require.True(t, allow(t, l, key, slow(1)).Allowed)
		require.False(t, allow(t, l, key, slow(1)).Allowed)
		assert.True(t, allow(t, l, other, slow(1)).Allowed)
	})

	t.Run("refills at its rate", func(t *testing.T) {
		clock := NewClock()
		l, key := newLimiter(t, clock), uniq("refill")
		if !clockDriven {
			perSecond := domain.RateLimit{PerSecond: 1, Burst: 1}
			require.True(t, allow(t, l, key, perSecond).Allowed)
			d := allow(t, l, key, perSecond)
			require.False(t, d.Allowed, "one request a second")
			require.Positive(t, d.RetryAfter)
			require.LessOrEqual(t, d.RetryAfter, time.Second)
			time.Sleep(d.RetryAfter + 50*time.Millisecond)
			assert.True(t, allow(t, l, key, perSecond).Allowed, "after Retry-After")
			return
		}
		tenPerSecond := domain.RateLimit{PerSecond: 10, Burst: 2}
		require.True(t, allow(t, l, key, tenPerSecond).Allowed)
		require.True(t, allow(t, l, key, tenPerSecond).Allowed)
		d := allow(t, l, key, tenPerSecond)
		require.False(t, d.Allowed)
		assert.Equal(t, 100*time.Millisecond, d.RetryAfter)
		assert.Equal(t, 200*time.Millisecond, d.ResetAfter)
		clock.Advance(100 * time.Millisecond)
		d = allow(t, l, key, tenPerSecond)
		assert.True(t, d.Allowed, "one token earned")
		assert.Zero(t, d.Remaining)
		assert.False(t, allow(t, l, key, tenPerSecond).Allowed, "and spent")
		clock.Advance(time.Hour)
		d = allow(t, l, key, tenPerSecond)
		assert.True(t, d.Allowed)
		assert.Equal(t, 1, d.Remaining, "never more than the burst")
	})

	t.Run("parallel requests on one key admit at most the burst", func(t *testing.T) {
		l, key := newLimiter(t, NewClock()), uniq("parallel")
		const n, burst = 64, 10
		var admitted atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				d, err := l.Allow(ctx, key, slow(burst))
				if assert.NoError(t, err) && d.Allowed {
					admitted.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.EqualValues(t, burst, admitted.Load())
	})

	t.Run("long keys are told apart", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		long := uniq("long") + strings.Repeat("k", 10000)
		require.True(t, allow(t, l, long+"a", slow(1)).Allowed)
		assert.False(t, allow(t, l, long+"a", slow(1)).Allowed, "the same long key is one bucket")
		assert.True(t, allow(t, l, long+"b", slow(1)).Allowed, "a long key differing only at its end is another")
	})
}
