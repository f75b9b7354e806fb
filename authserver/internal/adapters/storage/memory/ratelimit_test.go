package memory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// A flood of distinct keys, far more than the cap, never takes the limiter
// past it, and a key over its limit keeps its state through a flood when
// there are full buckets to drop instead.
func TestRateLimiterStaysWithinItsCap(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	const maxKeys = 1024
	l := NewRateLimiter(maxKeys, clock.Now)
	slow := domain.RateLimit{PerSecond: 0.001, Burst: 1}

	t.Run("100,000 distinct keys", func(t *testing.T) {
		for i := range 100_000 {
			_, err := l.Allow(ctx, fmt.Sprintf("source:10.%d.%d.%d", i>>16, i>>8&255, i&255), slow)
			require.NoError(t, err)
			if i%997 == 0 {
				require.LessOrEqual(t, l.Len(), maxKeys, "after %d keys", i+1)
			}
		}
		assert.LessOrEqual(t, l.Len(), maxKeys)
		assert.Greater(t, l.Len(), maxKeys/2, "the cap is used, not a fraction of it")
	})

	t.Run("full buckets go first", func(t *testing.T) {
		l := NewRateLimiter(maxKeys, clock.Now)
		fast := domain.RateLimit{PerSecond: 1000, Burst: 1}
		// Spent buckets that refill at once: full again a moment later.
		for i := range maxKeys {
			_, err := l.Allow(ctx, fmt.Sprintf("idle-%d", i), fast)
			require.NoError(t, err)
		}
		// One key over its limit, for a long time.
		d, err := l.Allow(ctx, "abuser", slow)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		clock.Advance(time.Second)
		for i := range 4 * maxKeys {
			_, err := l.Allow(ctx, fmt.Sprintf("new-%d", i), fast)
			require.NoError(t, err)
			clock.Advance(time.Millisecond)
		}
		assert.LessOrEqual(t, l.Len(), maxKeys)
		d, err = l.Allow(ctx, "abuser", slow)
		require.NoError(t, err)
		assert.False(t, d.Allowed, "its spent bucket was kept: only full ones were dropped")
	})

	t.Run("long keys cost a hash, not their length", func(t *testing.T) {
		l := NewRateLimiter(maxKeys, clock.Now)
		_, err := l.Allow(ctx, strings.Repeat("x", 1<<20), slow)
		require.NoError(t, err)
		for i := range l.shards {
			for k := range l.shards[i].buckets {
				assert.LessOrEqual(t, len(k), MaxRateKeyLen)
			}
		}
	})

	t.Run("sweep drops what is full again", func(t *testing.T) {
		l := NewRateLimiter(maxKeys, clock.Now)
		_, err := l.Allow(ctx, "refills", domain.RateLimit{PerSecond: 10, Burst: 5})
		require.NoError(t, err)
		_, err = l.Allow(ctx, "spent", slow)
		require.NoError(t, err)
		clock.Advance(time.Second)
		require.NoError(t, l.Sweep(ctx))
		assert.Equal(t, 1, l.Len())
	})
}

// A bucket whose limit changes (a client's rate was edited) keeps what it
// spent and refills at the new rate from the first request that carries it.
func TestRateLimiterTakesANewLimit(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	l := NewRateLimiter(100, clock.Now)
	old := domain.RateLimit{PerSecond: 1, Burst: 1}
	d, _ := l.Allow(ctx, "c", old)
	require.True(t, d.Allowed)
	d, _ = l.Allow(ctx, "c", old)
	require.False(t, d.Allowed)
	faster := domain.RateLimit{PerSecond: 100, Burst: 10}
	d, _ = l.Allow(ctx, "c", faster)
	require.False(t, d.Allowed, "nothing earned yet")
	assert.Equal(t, 10*time.Millisecond, d.RetryAfter, "at the new rate")
	clock.Advance(10 * time.Millisecond)
	d, _ = l.Allow(ctx, "c", faster)
	assert.True(t, d.Allowed, "one token earned at the new rate")
}
