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
	storagetest.RunSessions(t, func(_ *testing.T, l storagetest.Limits, now func() time.Time) app.SessionStore {
		return memory.NewSessions(memory.Options{Capacity: l.Capacity, PerUser: l.PerUser, Now: now})
	})
}

func TestLoginClaims(t *testing.T) {
	storagetest.RunLoginClaims(t, func(_ *testing.T, capacity int, now func() time.Time) app.LoginClaimStore {
		return memory.NewLoginClaims(memory.Options{Capacity: capacity, Now: now})
	})
}

// Expired entries are reclaimed even when nobody asks for them again.
func TestExpiredEntriesAreReclaimed(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	sessions := memory.NewSessions(memory.Options{Capacity: 1000, Now: c.Now})
	claims := memory.NewLoginClaims(memory.Options{Capacity: 1000, Now: c.Now})
	for i := range 100 {
		id := domain.Secret(strconv.Itoa(i))
		_, err := sessions.Create(ctx, domain.Session{ID: id, Subject: "user-" + string(id), Expires: c.Now().Add(time.Second)})
		require.NoError(t, err)
		_, err = claims.Claim(ctx, id, c.Now().Add(time.Second))
		require.NoError(t, err)
	}
	require.Equal(t, 100, sessions.Len())
	require.Equal(t, 100, claims.Len())

	c.Advance(2 * time.Minute)
	_, err := sessions.Create(ctx, domain.Session{ID: "live", Subject: "alice", Expires: c.Now().Add(time.Hour)})
	require.NoError(t, err)
	_, err = claims.Claim(ctx, "live", c.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, sessions.Len())
	assert.Equal(t, 1, claims.Len())
}

// However many sign-ins are claimed, the claim store stays within its
// bound, and a claim is never refused for lack of room: the one closest to
// expiring makes way.
func TestLoginClaimsStayBounded(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	claims := memory.NewLoginClaims(memory.Options{Capacity: 50, Now: c.Now})
	for i := range 500 {
		c.Advance(time.Millisecond)
		ok, err := claims.Claim(ctx, domain.NewRandom(), c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		require.LessOrEqual(t, claims.Len(), 50, "after %d", i)
	}
	first := domain.Secret("first")
	_, err := claims.Claim(ctx, first, c.Now().Add(time.Minute))
	require.NoError(t, err)
	_, err = claims.Claim(ctx, "next", c.Now().Add(10*time.Minute))
	require.NoError(t, err)
	ok, err := claims.Claim(ctx, first, c.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok, "the claim closest to expiring made way")
}
