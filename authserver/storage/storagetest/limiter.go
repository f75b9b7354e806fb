package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// LimitPolicy is the policy RunLimiter's limiters must enforce: the tight
// rule free 3, the ceiling free 5, the per-source rule free 100; waits
// from 1 s doubling to 8 s; forgotten a minute after the last failure.
var LimitPolicy = app.LimitPolicy{
	AccountSource: domain.Throttle{Free: 3, Base: time.Second, Max: 8 * time.Second, Window: time.Minute},
	Account:       domain.Throttle{Free: 5, Base: time.Second, Max: 8 * time.Second, Window: time.Minute},
	Source:        domain.Throttle{Free: 100, Base: time.Second, Max: 8 * time.Second, Window: time.Minute},
}

// RunLimiter tests an attempt limiter enforcing LimitPolicy by clock.
func RunLimiter(t *testing.T, newLimiter func(t *testing.T, clock *Clock) app.Limiter) {
	ctx := context.Background()
	tight := func(name string) app.LimitKey { return app.LimitKey{Kind: app.LimitAccountSource, Subject: uniq(name)} }
	ceiling := func(name string) app.LimitKey { return app.LimitKey{Kind: app.LimitAccount, Subject: uniq(name)} }

	reserve := func(t *testing.T, l app.Limiter, keys ...app.LimitKey) *domain.Throttled {
		t.Helper()
		err := l.Reserve(ctx, keys...)
		if err == nil {
			return nil
		}
		var th *domain.Throttled
		require.ErrorAs(t, err, &th)
		assert.ErrorIs(t, err, domain.ErrThrottled)
		return th
	}
	fail := func(t *testing.T, l app.Limiter, keys ...app.LimitKey) {
		t.Helper()
		require.Nil(t, reserve(t, l, keys...), "admitted")
		require.NoError(t, l.Settle(ctx, domain.AttemptFailed, keys...))
	}

	t.Run("300 concurrent reservations: at most Free pass", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		key := tight("alice|203.0.113.9")
		var admitted, busy atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 300 {
			wg.Go(func() {
				<-start
				err := l.Reserve(ctx, key)
				var th *domain.Throttled
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.As(err, &th) && th.Busy:
					busy.Add(1)
				default:
					assert.NoError(t, err)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.EqualValues(t, 3, admitted.Load(), "Free attempts, not one more")
		assert.EqualValues(t, 297, busy.Load(), "the rest wait on the ones in flight")

		for range 3 {
			require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
		}
		th := reserve(t, l, key)
		require.NotNil(t, th, "throttled once the 3 failed")
		assert.False(t, th.Busy)
		assert.Equal(t, time.Second, th.RetryAfter)
	})

	t.Run("several keys: one atomic step", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		shared := tight("shared")
		own := make([]app.LimitKey, 100)
		admitted := make([]bool, len(own))
		var wg sync.WaitGroup
		for i := range own {
			own[i] = ceiling(fmt.Sprintf("own%d", i))
			wg.Go(func() { admitted[i] = l.Reserve(ctx, own[i], shared) == nil })
		}
		wg.Wait()
		n := 0
		for i, k := range own {
			// A refused reservation counted nothing, on any of its keys:
			// its own key still has all 5 free attempts.
			free := 5
			if admitted[i] {
				n++
				free = 4
			}
			for range free {
				require.Nil(t, reserve(t, l, k))
			}
			require.NotNil(t, reserve(t, l, k))
		}
		assert.Equal(t, 3, n)
	})

	t.Run("waits double after the free failures, up to the maximum", func(t *testing.T) {
		clock := NewClock()
		l := newLimiter(t, clock)
		key := tight("bob")
		for range 3 {
			fail(t, l, key)
		}
		for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
			th := reserve(t, l, key)
			require.NotNil(t, th)
			assert.Equal(t, want, th.RetryAfter)
			clock.Advance(want - time.Millisecond)
			require.NotNil(t, reserve(t, l, key), "still too early")
			clock.Advance(time.Millisecond)
			fail(t, l, key)
		}
	})

	t.Run("a success takes its attempt back; a forgiving key forgets", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		acct, src := ceiling("carol"), tight("carol|198.51.100.7")
		for range 2 {
			fail(t, l, acct, src)
		}
		require.Nil(t, reserve(t, l, acct, src))
		require.NoError(t, l.Settle(ctx, domain.AttemptSucceeded, acct, src))
		// src forgot its 2 failures; acct only took the success back.
		for range 3 {
			fail(t, l, acct, src)
		}
		th := reserve(t, l, src)
		require.NotNil(t, th)
		assert.Equal(t, time.Second, th.RetryAfter, "3 failures at this source, not 5")
		th = reserve(t, l, acct)
		require.NotNil(t, th)
		assert.Equal(t, time.Second, th.RetryAfter, "5 failures on the account, not 6")
	})

	t.Run("a cancelled attempt is taken back", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		key := tight("dave")
		for range 10 {
			require.Nil(t, reserve(t, l, key))
			require.NoError(t, l.Settle(ctx, domain.AttemptCancelled, key))
		}
		for range 3 {
			fail(t, l, key)
		}
		require.NotNil(t, reserve(t, l, key))
	})

	t.Run("in flight beyond Free: busy, then throttled once it fails", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		key := tight("erin")
		for range 3 {
			require.Nil(t, reserve(t, l, key))
		}
		th := reserve(t, l, key)
		require.NotNil(t, th)
		assert.True(t, th.Busy, "waiting on the attempts in flight may help")
		require.NoError(t, l.Settle(ctx, domain.AttemptSucceeded, key))
		require.Nil(t, reserve(t, l, key), "a success freed its place")
		for range 3 {
			require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
		}
		th = reserve(t, l, key)
		require.NotNil(t, th)
		assert.False(t, th.Busy)
	})

	t.Run("an attempt never settled lapses as a failure", func(t *testing.T) {
		clock := NewClock()
		l := newLimiter(t, clock)
		key := tight("frank")
		for range 3 {
			require.Nil(t, reserve(t, l, key))
		}
		require.True(t, reserve(t, l, key).Busy)
		clock.Advance(domain.AttemptLease)
		require.Nil(t, reserve(t, l, key), "no longer waited on")
		require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
		th := reserve(t, l, key)
		require.NotNil(t, th)
		assert.Equal(t, 2*time.Second, th.RetryAfter, "the 3 that lapsed count as failures")
	})

	t.Run("a counter is forgotten a window after its last failure", func(t *testing.T) {
		clock := NewClock()
		l := newLimiter(t, clock)
		key := tight("grace")
		for range 3 {
			fail(t, l, key)
		}
		clock.Advance(time.Minute - time.Millisecond)
		fail(t, l, key) // not forgotten: the wait is over, and this is the 4th
		th := reserve(t, l, key)
		require.NotNil(t, th)
		assert.Equal(t, 2*time.Second, th.RetryAfter, "4 failures")
		clock.Advance(time.Minute) // a window after the last failure
		for range 3 {
			fail(t, l, key)
		}
		th = reserve(t, l, key)
		require.NotNil(t, th)
		assert.Equal(t, time.Second, th.RetryAfter, "counted from zero again")
	})

	t.Run("keys and kinds are independent; a kind without a rule is not counted", func(t *testing.T) {
		l := newLimiter(t, NewClock())
		a, b := tight("heidi|1"), tight("heidi|2")
		for range 3 {
			fail(t, l, a)
		}
		require.NotNil(t, reserve(t, l, a))
		require.Nil(t, reserve(t, l, b))
		off := app.LimitKey{Kind: "unknown", Subject: uniq("x")}
		for range 200 {
			require.Nil(t, reserve(t, l, off))
		}
		require.NoError(t, l.Settle(ctx, domain.AttemptFailed, off))
		src := app.LimitKey{Kind: app.LimitSource, Subject: uniq("203.0.113.1")}
		for range 100 {
			fail(t, l, src)
		}
		require.NotNil(t, reserve(t, l, src), "the per-source rule allows 100")
	})

	t.Run("settling a forgotten key is a no-op", func(t *testing.T) {
		clock := NewClock()
		l := newLimiter(t, clock)
		key := tight("ivan")
		require.Nil(t, reserve(t, l, key))
		clock.Advance(2 * time.Minute)
		require.NoError(t, l.Settle(ctx, domain.AttemptFailed, key))
		require.NoError(t, l.Settle(ctx, domain.AttemptSucceeded, tight("never")))
		for range 3 {
			fail(t, l, key)
		}
	})
}
