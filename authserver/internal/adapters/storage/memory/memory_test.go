package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

func newStore(clock *storagetest.Clock) *Store {
	return New(clock.Now, storagetest.LimitPolicy)
}

func TestConformance(t *testing.T) {
	t.Run("clients", func(t *testing.T) {
		storagetest.RunClients(t, func(_ *testing.T) storagetest.ClientStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("batch", func(t *testing.T) {
		storagetest.RunBatch(t, func(_ *testing.T) storagetest.BatchStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("users", func(t *testing.T) {
		storagetest.RunUsers(t, func(_ *testing.T) storagetest.UserStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("refresh tokens", func(t *testing.T) {
		storagetest.RunRefreshTokens(t, func(_ *testing.T, c *storagetest.Clock) app.RefreshTokenStore { return newStore(c) })
	})
	t.Run("revocations", func(t *testing.T) {
		storagetest.RunRevocations(t, func(_ *testing.T, c *storagetest.Clock) app.RevocationStore { return newStore(c) })
	})
	t.Run("signing keys", func(t *testing.T) {
		storagetest.RunSigningKeys(t, func(_ *testing.T) jwtkeys.Store { return newStore(storagetest.NewClock()) })
	})
	t.Run("sessions", func(t *testing.T) {
		storagetest.RunSessions(t, func(_ *testing.T, c *storagetest.Clock) app.SessionStore { return newStore(c) })
	})
	t.Run("codes", func(t *testing.T) {
		storagetest.RunCodes(t, func(_ *testing.T, c *storagetest.Clock) app.CodeStore { return newStore(c) })
	})
	t.Run("consents", func(t *testing.T) {
		storagetest.RunConsents(t, func(_ *testing.T) app.ConsentStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("user-client revocation", func(t *testing.T) {
		storagetest.RunUserClientRevocation(t, func(_ *testing.T, c *storagetest.Clock) storagetest.UserClientRefreshStore { return newStore(c) })
	})
	t.Run("user revocation", func(t *testing.T) {
		storagetest.RunUserRevocation(t, func(_ *testing.T, c *storagetest.Clock) storagetest.UserRefreshStore { return newStore(c) })
	})
	t.Run("client consents", func(t *testing.T) {
		storagetest.RunClientConsents(t, func(_ *testing.T) storagetest.ClientConsentStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("client revocation", func(t *testing.T) {
		storagetest.RunClientRevocation(t, func(_ *testing.T, c *storagetest.Clock) storagetest.ClientRefreshStore { return newStore(c) })
	})
	t.Run("audit", func(t *testing.T) {
		storagetest.RunAudit(t, func(_ *testing.T) storagetest.AuditStore { return newStore(storagetest.NewClock()) })
	})
	t.Run("limiter", func(t *testing.T) {
		storagetest.RunLimiter(t, func(_ *testing.T, c *storagetest.Clock) app.Limiter { return newStore(c).Limiter() })
	})
	t.Run("rate limiter", func(t *testing.T) {
		storagetest.RunRateLimiter(t, true, func(_ *testing.T, c *storagetest.Clock) storagetest.RateLimiter {
			return NewRateLimiter(1000, c.Now)
		})
	})
}

func TestSweepReclaimsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	s := newStore(clock)
	now := clock.Now()
	require.NoError(t, s.CreateRefreshToken(ctx, domain.RefreshToken{Hash: "short", FamilyID: "f1", Status: domain.RefreshActive, ExpiresAt: now.Add(time.Minute)}))
	require.NoError(t, s.CreateRefreshToken(ctx, domain.RefreshToken{Hash: "long", FamilyID: "f2", Status: domain.RefreshActive, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, s.Revoke(ctx, "jti:x", now, now.Add(time.Minute)))
	require.NoError(t, s.CreateSession(ctx, domain.Session{Hash: "s", ExpiresAt: now.Add(time.Minute)}))
	require.NoError(t, s.CreateCode(ctx, domain.AuthorizationCode{Hash: "c", ExpiresAt: now.Add(time.Minute)}))
	key := app.LimitKey{Kind: app.LimitAccount, Subject: "a"}
	require.NoError(t, s.Limiter().Reserve(ctx, key))
	require.NoError(t, s.Limiter().Settle(ctx, domain.AttemptFailed, key))
	require.Equal(t, 1, s.Limiter().Len())

	clock.Advance(2 * time.Minute)
	require.NoError(t, s.Sweep(ctx))

	_, err := s.FindRefreshToken(ctx, "short")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.FindRefreshToken(ctx, "long")
	assert.NoError(t, err)
	assert.NotContains(t, s.families, "f1")
	assert.Empty(t, s.revoked)
	assert.Zero(t, s.Limiter().Len())
	assert.Empty(t, s.sessions)
	assert.Empty(t, s.codes)
}
