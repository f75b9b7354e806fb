package memory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// The limiter is bounded whatever it is sent: in entries, evicting what has
// run out first and then the least recently used, and in key size.
func TestLimiterIsBounded(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	l := NewLimiter(storagetest.LimitPolicy, clock.Now, 10)
	key := func(i int) app.LimitKey { return app.LimitKey{Kind: app.LimitAccount, Subject: fmt.Sprint(i)} }
	fail := func(k app.LimitKey) {
		require.NoError(t, l.Reserve(ctx, k))
		require.NoError(t, l.Settle(ctx, domain.AttemptFailed, k))
	}

	for i := range 10 {
		fail(key(i))
	}
	require.Equal(t, 10, l.Len())
	fail(key(0)) // 0 is now the most recently used, 1 the least
	fail(key(100))
	assert.Equal(t, 10, l.Len(), "full: one evicted")
	_, ok := l.entries[limiterKey(key(1))]
	assert.False(t, ok, "the least recently used went")
	_, ok = l.entries[limiterKey(key(0))]
	assert.True(t, ok)

	// Counters that ran out go before any live one.
	clock.Advance(2 * time.Minute)
	fail(key(200))
	clock.Advance(2 * time.Second)
	fail(key(201))
	assert.Equal(t, 2, l.Len(), "the expired counters were swept to make room")

	long := app.LimitKey{Kind: app.LimitAccountSource, Subject: strings.Repeat("x", 20000)}
	fail(long)
	for k := range l.entries {
		assert.LessOrEqual(t, len(k), maxLimitKey)
	}

	// A counter that settles back to nothing takes no room.
	ok0 := app.LimitKey{Kind: app.LimitAccount, Subject: "fine"}
	require.NoError(t, l.Reserve(ctx, ok0))
	require.NoError(t, l.Settle(ctx, domain.AttemptSucceeded, ok0))
	_, ok = l.entries[limiterKey(ok0)]
	assert.False(t, ok)
}
