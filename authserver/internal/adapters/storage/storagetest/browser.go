package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// RunSessions tests a session store.
func RunSessions(t *testing.T, newStore func(t *testing.T, clock *Clock) app.SessionStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	sess := domain.Session{Hash: uniq("sess"), UserID: "u1", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	require.NoError(t, s.CreateSession(ctx, sess))
	got, err := s.FindSession(ctx, sess.Hash)
	require.NoError(t, err)
	assert.Equal(t, sess, got)

	require.NoError(t, s.DeleteSession(ctx, sess.Hash))
	_, err = s.FindSession(ctx, sess.Hash)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.NoError(t, s.DeleteSession(ctx, sess.Hash), "deleting twice is fine")
	_, err = s.FindSession(ctx, uniq("never"))
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

func code(clock *Clock) domain.AuthorizationCode {
	now := clock.Now()
	return domain.AuthorizationCode{
		Hash: uniq("code"), ClientID: "c", UserID: "u", RedirectURI: "https://app.example/cb",
		Scope: domain.NewScope("a", "b"), Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ChallengeMethod: domain.PKCES256,
		FamilyID: uniq("fam"), IssuedAt: now, ExpiresAt: now.Add(time.Minute),
	}
}

// RunCodes tests an authorization code store.
func RunCodes(t *testing.T, newStore func(t *testing.T, clock *Clock) app.CodeStore) {
	ctx := context.Background()
	t.Run("redeem once", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		got, err := s.RedeemCode(ctx, c.Hash)
		require.NoError(t, err)
		assert.Equal(t, c, got, "first redemption sees the code as issued")
		again, err := s.RedeemCode(ctx, c.Hash)
		require.NoError(t, err)
		assert.True(t, again.Redeemed, "a replay sees it redeemed")
		assert.Equal(t, c.FamilyID, again.FamilyID, "and learns the family to revoke")
		_, err = s.RedeemCode(ctx, uniq("never"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("concurrent redemptions: exactly one first", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		var wg sync.WaitGroup
		var mu sync.Mutex
		first := 0
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.RedeemCode(ctx, c.Hash)
				if err == nil && !got.Redeemed {
					mu.Lock()
					first++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, first)
	})
}

// RunConsents tests a consent store.
func RunConsents(t *testing.T, newStore func(t *testing.T) app.ConsentStore) {
	ctx := context.Background()
	s := newStore(t)
	user, other := uniq("user"), uniq("other")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := domain.Consent{UserID: user, ClientID: "app-a", Scope: domain.NewScope("x"), CreatedAt: t0, UpdatedAt: t0}
	b := domain.Consent{UserID: user, ClientID: "app-b", Scope: domain.NewScope("x", "y"), CreatedAt: t0, UpdatedAt: t0}
	c := domain.Consent{UserID: other, ClientID: "app-a", Scope: domain.NewScope("z"), CreatedAt: t0, UpdatedAt: t0}
	for _, x := range []domain.Consent{a, b, c} {
		require.NoError(t, s.SaveConsent(ctx, x))
	}
	got, err := s.FindConsent(ctx, user, "app-a")
	require.NoError(t, err)
	assert.Equal(t, a, got)

	a.Scope = domain.NewScope("x", "w")
	a.UpdatedAt = t0.Add(time.Hour)
	require.NoError(t, s.SaveConsent(ctx, a), "save is an upsert")
	list, err := s.ListConsents(ctx, user)
	require.NoError(t, err)
	assert.Equal(t, []domain.Consent{a, b}, list, "the user's own, by client id")

	require.NoError(t, s.DeleteConsent(ctx, user, "app-a"))
	_, err = s.FindConsent(ctx, user, "app-a")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	got, err = s.FindConsent(ctx, other, "app-a")
	require.NoError(t, err, "another user's consent to the same client stays")
	assert.Equal(t, c, got)
	assert.NoError(t, s.DeleteConsent(ctx, user, "app-a"), "deleting twice is fine")
	list, err = s.ListConsents(ctx, uniq("nobody"))
	require.NoError(t, err)
	assert.Empty(t, list)
}

// UserClientRefreshStore is a refresh token store that also revokes by
// user and client.
type UserClientRefreshStore interface {
	app.RefreshTokenStore
	app.UserClientRevoker
}

// RunUserClientRevocation tests revoking every refresh token a client holds
// for a user.
func RunUserClientRevocation(t *testing.T, newStore func(t *testing.T, clock *Clock) UserClientRefreshStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	user := uniq("user")
	mk := func(userID, clientID string) domain.RefreshToken {
		rt := refreshToken(uniq("fam"), clock)
		rt.UserID, rt.ClientID = userID, clientID
		require.NoError(t, s.CreateRefreshToken(ctx, rt))
		return rt
	}
	hit1, hit2 := mk(user, "app"), mk(user, "app")
	otherClient, otherUser := mk(user, "other-app"), mk(uniq("u2"), "app")
	require.NoError(t, s.RevokeUserClientTokens(ctx, user, "app"))
	for rt, want := range map[string]domain.RefreshStatus{
		hit1.Hash: domain.RefreshRevoked, hit2.Hash: domain.RefreshRevoked,
		otherClient.Hash: domain.RefreshActive, otherUser.Hash: domain.RefreshActive,
	} {
		got, err := s.FindRefreshToken(ctx, rt)
		require.NoError(t, err)
		assert.Equal(t, want, got.Status)
	}
}

// AuditStore is an audit log that can be read back.
type AuditStore interface {
	app.AuditLog
	// RecentAudit returns the newest events first, at most limit.
	RecentAudit(ctx context.Context, limit int) ([]domain.AuditEvent, error)
}

// RunAudit tests an audit store.
func RunAudit(t *testing.T, newStore func(t *testing.T) AuditStore) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := uniq("client")
	first := domain.AuditEvent{Time: t0, Type: domain.AuditTokenIssued, ClientID: client, UserID: "u1", Outcome: domain.OutcomeSuccess, Detail: "password"}
	second := domain.AuditEvent{Time: t0.Add(time.Second), Type: domain.AuditTokenRefused, ClientID: client, Outcome: domain.OutcomeFailure, Detail: "invalid_grant"}
	require.NoError(t, s.Record(ctx, first))
	require.NoError(t, s.Record(ctx, second))
	got, err := s.RecentAudit(ctx, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, second, got[0], "newest first")
	assert.Equal(t, first, got[1])
}
