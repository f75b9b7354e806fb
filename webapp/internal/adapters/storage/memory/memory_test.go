package memory_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/adapters/storage/memory"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

func TestSessions(t *testing.T) {
	storagetest.RunSessions(t, func(_ *testing.T, capacity int, now func() time.Time) app.SessionStore {
		return memory.NewSessions(memory.Options{Capacity: capacity, Now: now})
	})
}

func TestLoginAttempts(t *testing.T) {
	storagetest.RunLoginAttempts(t, func(_ *testing.T, capacity int, now func() time.Time) app.LoginAttemptStore {
		return memory.NewLoginAttempts(memory.Options{Capacity: capacity, Now: now})
	})
}

// Expired entries are reclaimed even when nobody asks for them again.
func TestExpiredEntriesAreReclaimed(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	sessions := memory.NewSessions(memory.Options{Capacity: 1000, Now: c.Now})
	attempts := memory.NewLoginAttempts(memory.Options{Capacity: 1000, Now: c.Now})
	for i := range 100 {
		id := domain.Secret(strconv.Itoa(i))
		require.NoError(t, sessions.Create(ctx, domain.Session{ID: id, Expires: c.Now().Add(time.Second)}))
		require.NoError(t, attempts.Create(ctx, domain.LoginAttempt{ID: id, Expires: c.Now().Add(time.Second)}))
	}
	require.Equal(t, 100, sessions.Len())
	require.Equal(t, 100, attempts.Len())

	c.Advance(2 * time.Minute)
	require.NoError(t, sessions.Create(ctx, domain.Session{ID: "live", Expires: c.Now().Add(time.Hour)}))
	require.NoError(t, attempts.Create(ctx, domain.LoginAttempt{ID: "live", Expires: c.Now().Add(time.Hour)}))
	assert.Equal(t, 1, sessions.Len())
	assert.Equal(t, 1, attempts.Len())
}

// However many sign-ins are started, the attempt store stays within its
// bound.
func TestLoginAttemptsStayBounded(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	attempts := memory.NewLoginAttempts(memory.Options{Capacity: 50, Now: c.Now})
	for i := range 500 {
		c.Advance(time.Millisecond)
		require.NoError(t, attempts.Create(ctx, domain.LoginAttempt{ID: domain.NewRandom(), Expires: c.Now().Add(10 * time.Minute)}))
		require.LessOrEqual(t, attempts.Len(), 50, "after %d", i)
	}
}
