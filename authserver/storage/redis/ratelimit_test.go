package redis

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// Two stores on one Redis and one prefix are two replicas: they spend one
// budget per key.
func TestRateLimitIsSharedByReplicas(t *testing.T) {
	ctx := context.Background()
	a := newStore(t, storagetest.NewClock())
	b, err := Open(ctx, Config{URL: testURL(t), KeyPrefix: a.prefix, Timeout: generous}, a.now)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	limit := domain.RateLimit{PerSecond: 0.001, Burst: 4}

	allowed := 0
	for i := range 8 {
		l := a.RateLimiter()
		if i%2 == 1 {
			l = b.RateLimiter()
		}
		d, err := l.Allow(ctx, "client:shared", limit)
		require.NoError(t, err)
		if d.Allowed {
			allowed++
		}
	}
	assert.Equal(t, 4, allowed, "the burst, across both replicas")
}

func TestRateKeysAreBounded(t *testing.T) {
	s := newStore(t, storagetest.NewClock())
	assert.Equal(t, s.prefix+"ratelimit:source:192.0.2.1", s.rateKey("source:192.0.2.1"))
	long := s.rateKey(strings.Repeat("x", 1<<20))
	assert.LessOrEqual(t, len(long), len(s.prefix)+len("ratelimit:")+maxRateKeyLen)
	assert.NotEqual(t, long, s.rateKey(strings.Repeat("x", 1<<20-1)+"y"))
}
