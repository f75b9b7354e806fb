package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// Migration 0004 lower-cases the usernames sign-up used to accept with
// capitals, so they are found by their PRECIS form, but never merges two
// accounts into one name.
func TestMigrationLowerCasesUsernamesSafely(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, storagetest.NewClock())
	now := time.Now()
	for id, name := range map[string]string{"u1": "Bob", "u2": "Carol", "u3": "carol", "u4": "DAVE", "u5": "Dave", "u6": "josé", "u7": "erin"} {
		require.NoError(t, s.SaveUser(ctx, domain.User{ID: id, Username: name, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}))
	}
	// Run 0004 again, as on a database that had these users before it.
	_, err := s.exec(ctx, `DROP TABLE throttle_counters; DELETE FROM schema_migrations WHERE version = '0004_throttle'`)
	require.NoError(t, err)
	applied, err := s.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"0004_throttle"}, applied)

	for name, id := range map[string]string{"bob": "u1", "Carol": "u2", "carol": "u3", "DAVE": "u4", "Dave": "u5", "josé": "u6", "erin": "u7"} {
		u, err := s.FindUserByUsername(ctx, name)
		require.NoError(t, err, name)
		assert.Equal(t, id, u.ID, name)
	}
}
