package cache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

type counting struct {
	ClientStore
	finds int
	down  bool
}

func (c *counting) FindClient(ctx context.Context, id string) (domain.Client, error) {
	c.finds++
	if c.down {
		return domain.Client{}, domain.ErrUnavailable
	}
	return c.ClientStore.FindClient(ctx, id)
}

func TestClientsCache(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	require.NoError(t, store.SaveClient(ctx, domain.Client{ID: "a", Name: "A"}))
	next := &counting{ClientStore: store}
	c := NewClients(next, 5*time.Second, 10, clock.Now)

	for i := 0; i < 3; i++ {
		got, err := c.FindClient(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, "A", got.Name)
	}
	assert.Equal(t, 1, next.finds, "read once")

	for i := 0; i < 3; i++ {
		_, err := c.FindClient(ctx, "nobody")
		assert.ErrorIs(t, err, domain.ErrNotFound)
	}
	assert.Equal(t, 2, next.finds, "an unknown id is remembered too")

	require.NoError(t, c.SaveClient(ctx, domain.Client{ID: "a", Name: "Renamed"}))
	got, err := c.FindClient(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "Renamed", got.Name, "a change through the cache is seen at once")

	require.NoError(t, store.SaveClient(ctx, domain.Client{ID: "a", Name: "Elsewhere"}))
	got, _ = c.FindClient(ctx, "a")
	assert.Equal(t, "Renamed", got.Name, "a change made elsewhere waits for the TTL")
	clock.Advance(6 * time.Second)
	got, _ = c.FindClient(ctx, "a")
	assert.Equal(t, "Elsewhere", got.Name, "and is seen after it")

	next.down = true
	clock.Advance(6 * time.Second)
	_, err = c.FindClient(ctx, "a")
	assert.True(t, errors.Is(err, domain.ErrUnavailable))
	next.down = false
	_, err = c.FindClient(ctx, "a")
	assert.NoError(t, err, "an outage is not cached")

	for i := 0; i < 30; i++ {
		_, _ = c.FindClient(ctx, string(rune('b'+i)))
	}
	assert.LessOrEqual(t, c.entries.Len(), 10, "bounded")
}

// An id longer than any client id is not found without a look-up, and
// takes no room: junk ids of any size cannot fill the cache.
func TestClientsCacheIgnoresOverlongIDs(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	next := &counting{ClientStore: memory.New(clock.Now, app.LimitPolicy{})}
	c := NewClients(next, 5*time.Second, 10, clock.Now)
	_, err := c.FindClient(ctx, strings.Repeat("x", app.MaxClientIDBytes+1))
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.Zero(t, next.finds)
	assert.Zero(t, c.entries.Len())
}

type countingOrigins struct {
	ClientStore
	reads int
	down  bool
}

func (c *countingOrigins) ClientOrigins(ctx context.Context) ([]string, error) {
	c.reads++
	if c.down {
		return nil, domain.ErrUnavailable
	}
	return c.ClientStore.ClientOrigins(ctx)
}

func TestOriginsCache(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	require.NoError(t, store.SaveClient(ctx, domain.Client{ID: "a", AllowedOrigins: []string{"https://a.example"}}))
	next := &countingOrigins{ClientStore: store}
	c := NewClients(next, 5*time.Second, 10, clock.Now)
	allowed := func(o string) bool {
		t.Helper()
		ok, err := c.OriginAllowed(ctx, o)
		require.NoError(t, err)
		return ok
	}

	assert.True(t, allowed("https://a.example"))
	assert.False(t, allowed("https://b.example"))
	assert.Equal(t, 1, next.reads, "the whole set is read once")

	require.NoError(t, store.SaveClient(ctx, domain.Client{ID: "b", AllowedOrigins: []string{"https://b.example"}}))
	assert.False(t, allowed("https://b.example"), "a change made elsewhere waits for the TTL")
	clock.Advance(5 * time.Second)
	assert.True(t, allowed("https://b.example"))
	assert.Equal(t, 2, next.reads)

	require.NoError(t, c.SaveBatch(ctx, nil, []domain.Client{{ID: "c", AllowedOrigins: []string{"https://c.example"}}}, nil))
	assert.True(t, allowed("https://c.example"), "a batch through the cache is seen at once")
	got, err := c.FindClient(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, []string{"https://c.example"}, got.AllowedOrigins)

	next.down = true
	clock.Advance(5 * time.Second)
	_, err = c.OriginAllowed(ctx, "https://a.example")
	assert.ErrorIs(t, err, domain.ErrUnavailable, "an outage is reported")
	next.down = false
	assert.True(t, allowed("https://a.example"), "and not cached")
}

func TestClientsCacheAdministration(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	c := NewClients(memory.New(clock.Now, app.LimitPolicy{}), time.Hour, 10, clock.Now)

	_, err := c.FindClient(ctx, "new")
	require.ErrorIs(t, err, domain.ErrNotFound) // remembered as unknown
	require.NoError(t, c.CreateClient(ctx, domain.Client{ID: "new", Name: "New"}))
	got, err := c.FindClient(ctx, "new")
	require.NoError(t, err, "a client created through the cache is found at once")
	assert.Equal(t, "New", got.Name)

	require.NoError(t, c.UpdateClient(ctx, "new", func(cl *domain.Client) error { cl.Name = "Changed"; return nil }))
	got, err = c.FindClient(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "Changed", got.Name, "an update is seen at once")

	require.NoError(t, c.DeleteClient(ctx, "new"))
	_, err = c.FindClient(ctx, "new")
	assert.ErrorIs(t, err, domain.ErrNotFound, "a deleted client is refused at once, not after the TTL")
}
