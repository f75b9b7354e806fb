package storagetest

import (
	"context"
	"fmt"
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
	sess := domain.Session{Hash: uniq("sess"), UserID: "u1", Door: domain.DoorAPI, Source: "2001:db8::7",
		UserAgent: "curl/8.5.0 \u00e9", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
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

	t.Run("a user's sessions", func(t *testing.T) { runUserSessions(t, newStore) })
	t.Run("extend", func(t *testing.T) { runExtendSession(t, newStore) })
	t.Run("race: extending while the session ends never brings it back", func(t *testing.T) { runExtendRace(t, newStore) })
	t.Run("ending a user's sessions while more start", func(t *testing.T) { runUserSessionsRace(t, newStore) })
}

func runUserSessions(t *testing.T, newStore func(t *testing.T, clock *Clock) app.SessionStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	alice, bob := uniq("alice"), uniq("bob")
	start := func(user string, ttl time.Duration) domain.Session {
		t.Helper()
		sess := domain.Session{Hash: uniq("sess-" + user), UserID: user, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(ttl)}
		require.NoError(t, s.CreateSession(ctx, sess))
		clock.Advance(time.Second)
		return sess
	}
	list := func(user string) []domain.Session {
		t.Helper()
		got, err := s.ListUserSessions(ctx, user)
		require.NoError(t, err)
		return got
	}

	none := list(alice)
	assert.Empty(t, none, "a user without sessions has none")
	first := start(alice, time.Hour)
	short := start(alice, 5*time.Second)
	third := start(alice, 2*time.Hour)
	dead := domain.Session{Hash: uniq("dead"), UserID: alice, CreatedAt: clock.Now().Add(-2 * time.Hour), ExpiresAt: clock.Now().Add(-time.Hour)}
	require.NoError(t, s.CreateSession(ctx, dead))
	bobs := start(bob, time.Hour)

	assert.Equal(t, []domain.Session{first, short, third}, list(alice), "active ones, oldest first")
	assert.Equal(t, []domain.Session{bobs}, list(bob))

	clock.Advance(3 * time.Second) // short has just expired
	assert.Equal(t, []domain.Session{first, third}, list(alice), "an expired session is not listed")

	require.NoError(t, s.DeleteSession(ctx, first.Hash))
	assert.Equal(t, []domain.Session{third}, list(alice), "nor an ended one")

	// A hash taken over by another user's session (CreateSession replaces)
	// is that user's now.
	moved := third
	moved.UserID = bob
	require.NoError(t, s.CreateSession(ctx, moved))
	assert.Empty(t, list(alice))
	assert.Equal(t, []domain.Session{moved, bobs}, list(bob))

	again := start(alice, time.Hour)
	other := start(alice, time.Hour)
	require.NoError(t, s.DeleteUserSessions(ctx, alice))
	assert.Empty(t, list(alice))
	for _, sess := range []domain.Session{again, other} {
		_, err := s.FindSession(ctx, sess.Hash)
		assert.ErrorIs(t, err, domain.ErrNotFound, "every active session of the user is gone")
	}
	for _, sess := range []domain.Session{dead, short} {
		if got, err := s.FindSession(ctx, sess.Hash); err == nil {
			assert.False(t, got.Active(clock.Now()), "an expired one may stay until it is reclaimed, never active")
		} else {
			assert.ErrorIs(t, err, domain.ErrNotFound)
		}
	}
	assert.Equal(t, []domain.Session{moved, bobs}, list(bob), "another user's stay")
	assert.NoError(t, s.DeleteUserSessions(ctx, alice), "twice is fine")
	assert.NoError(t, s.DeleteUserSessions(ctx, uniq("nobody")), "so is a user without sessions")

	later := start(alice, time.Hour)
	assert.Equal(t, []domain.Session{later}, list(alice), "a new session after the sign-out")
}

// runUserSessionsRace starts sessions while the user's sessions are ended:
// whatever the interleaving, a session that exists afterwards is listed,
// so the next DeleteUserSessions ends it; none escapes the index.
func runUserSessionsRace(t *testing.T, newStore func(t *testing.T, clock *Clock) app.SessionStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	user := uniq("racer")
	const n = 40
	hashes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		hashes[i] = fmt.Sprintf("%s-%d", uniq("sess"), i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.CreateSession(ctx, domain.Session{Hash: hashes[i], UserID: user, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}))
		}()
		if i%10 == 5 {
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, s.DeleteUserSessions(ctx, user)) }()
		}
	}
	wg.Wait()

	listed, err := s.ListUserSessions(ctx, user)
	require.NoError(t, err)
	inList := map[string]bool{}
	for _, sess := range listed {
		inList[sess.Hash] = true
	}
	for _, h := range hashes {
		_, err := s.FindSession(ctx, h)
		exists := err == nil
		if !exists {
			require.ErrorIs(t, err, domain.ErrNotFound)
		}
		assert.Equal(t, exists, inList[h], "session %s exists exactly when it is listed", h)
	}
	require.NoError(t, s.DeleteUserSessions(ctx, user))
	for _, h := range hashes {
		_, err := s.FindSession(ctx, h)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	}
}

func runExtendSession(t *testing.T, newStore func(t *testing.T, clock *Clock) app.SessionStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	user := uniq("frank")
	sess := domain.Session{Hash: uniq("sess"), UserID: user, Door: domain.DoorPage, Source: "192.0.2.1", UserAgent: "Firefox/1 \u00e9 <\"x\">",
		CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	require.NoError(t, s.CreateSession(ctx, sess))

	later := clock.Now().Add(3 * time.Hour)
	require.NoError(t, s.ExtendSession(ctx, sess.Hash, later))
	want := sess
	want.ExpiresAt = later
	got, err := s.FindSession(ctx, sess.Hash)
	require.NoError(t, err)
	assert.Equal(t, want, got, "only the expiry changed")

	clock.Advance(2 * time.Hour) // past the old expiry, before the new one
	list, err := s.ListUserSessions(ctx, user)
	require.NoError(t, err)
	assert.Equal(t, []domain.Session{want}, list, "listed until its new expiry")

	sooner := clock.Now().Add(time.Minute)
	require.NoError(t, s.ExtendSession(ctx, sess.Hash, sooner), "an expiry may come sooner")
	got, err = s.FindSession(ctx, sess.Hash)
	require.NoError(t, err)
	assert.Equal(t, sooner, got.ExpiresAt)

	clock.Advance(2 * time.Minute)
	assert.ErrorIs(t, s.ExtendSession(ctx, sess.Hash, clock.Now().Add(time.Hour)), domain.ErrNotFound, "an expired session stays over")
	if got, err := s.FindSession(ctx, sess.Hash); err == nil {
		assert.False(t, got.Active(clock.Now()))
	}

	gone := domain.Session{Hash: uniq("sess"), UserID: user, CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	require.NoError(t, s.CreateSession(ctx, gone))
	require.NoError(t, s.DeleteSession(ctx, gone.Hash))
	assert.ErrorIs(t, s.ExtendSession(ctx, gone.Hash, clock.Now().Add(2*time.Hour)), domain.ErrNotFound, "an ended session stays ended")
	_, err = s.FindSession(ctx, gone.Hash)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.ErrorIs(t, s.ExtendSession(ctx, uniq("never"), clock.Now().Add(time.Hour)), domain.ErrNotFound)
}

// runExtendRace extends a session 50 times at once while it is ended:
// once the end is acknowledged, the session is gone for good.
func runExtendRace(t *testing.T, newStore func(t *testing.T, clock *Clock) app.SessionStore) {
	ctx := context.Background()
	clock := NewClock()
	s := newStore(t, clock)
	for round := 0; round < 5; round++ {
		sess := domain.Session{Hash: uniq("sess"), UserID: uniq("gina"), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
		require.NoError(t, s.CreateSession(ctx, sess))
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 25 {
					assert.NoError(t, s.DeleteSession(ctx, sess.Hash))
					return
				}
				if err := s.ExtendSession(ctx, sess.Hash, clock.Now().Add(time.Duration(i+2)*time.Hour)); err != nil {
					assert.ErrorIs(t, err, domain.ErrNotFound)
				}
			}()
		}
		wg.Wait()
		_, err := s.FindSession(ctx, sess.Hash)
		require.ErrorIs(t, err, domain.ErrNotFound, "round %d: the ended session came back", round)
		list, err := s.ListUserSessions(ctx, sess.UserID)
		require.NoError(t, err)
		require.Empty(t, list, "round %d", round)
	}
}

func code(clock *Clock) domain.AuthorizationCode {
	now := clock.Now()
	return domain.AuthorizationCode{
		Hash: uniq("code"), ClientID: "c", UserID: "u", RedirectURI: "https://app.example/cb",
		Scope: domain.NewScope("a", "b"), Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ChallengeMethod: domain.PKCES256,
		FamilyID: uniq("fam"), IssuedAt: now, ExpiresAt: now.Add(time.Minute),
		Nonce: "n-0S6_WzA2Mj", SignIn: domain.SignIn{At: now.Add(-time.Hour), SessionID: uniq("sid")},
	}
}

// RunCodes tests an authorization code store: the two-phase redemption of
// domain.AuthorizationCode.
func RunCodes(t *testing.T, newStore func(t *testing.T, clock *Clock) app.CodeStore) {
	ctx := context.Background()
	claimUntil := func(clock *Clock) time.Time { return clock.Now().Add(10 * time.Second) }
	t.Run("claim, settle as used, then nothing more", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		got, granted, err := s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		assert.True(t, granted)
		assert.Equal(t, c, got, "the claim returns the code as it was")

		_, granted, err = s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		assert.True(t, granted, "a claim sent twice by one attempt is granted twice")
		again, granted, err := s.ClaimCode(ctx, c.Hash, "a2", claimUntil(clock))
		require.NoError(t, err)
		assert.False(t, granted, "another attempt may not claim a held code")
		assert.Equal(t, "a1", again.ClaimedBy)
		assert.Equal(t, c.FamilyID, again.FamilyID, "and learns the family to revoke")

		assert.ErrorIs(t, s.SettleCode(ctx, c.Hash, "a2", true), domain.ErrClaimLost, "only the holder settles")
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a1", true))
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a1", true), "settling twice is harmless")
		clock.Advance(time.Minute - time.Second)
		used, granted, err := s.ClaimCode(ctx, c.Hash, "a3", claimUntil(clock))
		require.NoError(t, err)
		assert.False(t, granted, "a used code is never claimable again, even after the claim lapsed")
		assert.True(t, used.Used)

		_, _, err = s.ClaimCode(ctx, uniq("never"), "a1", claimUntil(clock))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("find reads the code and changes nothing", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		got, err := s.FindCode(ctx, c.Hash)
		require.NoError(t, err)
		assert.Equal(t, c, got)
		_, granted, err := s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		require.True(t, granted, "finding claimed nothing")

		got, err = s.FindCode(ctx, c.Hash)
		require.NoError(t, err)
		assert.Equal(t, "a1", got.ClaimedBy, "and it reads the claim")
		assert.WithinDuration(t, claimUntil(clock), got.ClaimedUntil, time.Millisecond)
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a1", true))
		require.NoError(t, s.MarkCodeReplayed(ctx, c.Hash))
		got, err = s.FindCode(ctx, c.Hash)
		require.NoError(t, err)
		assert.True(t, got.Used)
		assert.True(t, got.Replayed)

		_, err = s.FindCode(ctx, uniq("never"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("release leaves the code usable", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		_, granted, err := s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		require.True(t, granted)
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a2", false), "releasing another's claim is a no-op")
		_, granted, err = s.ClaimCode(ctx, c.Hash, "a2", claimUntil(clock))
		require.NoError(t, err)
		require.False(t, granted, "the no-op left a1's claim in place")
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a1", false))
		_, granted, err = s.ClaimCode(ctx, c.Hash, "a2", claimUntil(clock))
		require.NoError(t, err)
		assert.True(t, granted, "the retry claims a released code")
		assert.ErrorIs(t, s.SettleCode(ctx, c.Hash, "a1", true), domain.ErrClaimLost, "a1's claim is gone")
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a2", true))
	})
	t.Run("a lapsed claim can be taken over; its holder then loses", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		_, granted, err := s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		require.True(t, granted)
		clock.Advance(10 * time.Second)
		prev, granted, err := s.ClaimCode(ctx, c.Hash, "a2", claimUntil(clock))
		require.NoError(t, err)
		assert.True(t, granted)
		assert.Equal(t, "a1", prev.ClaimedBy)
		assert.ErrorIs(t, s.SettleCode(ctx, c.Hash, "a1", true), domain.ErrClaimLost)
	})
	t.Run("replayed: the holder cannot settle, nobody can claim", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		c := code(clock)
		require.NoError(t, s.CreateCode(ctx, c))
		_, granted, err := s.ClaimCode(ctx, c.Hash, "a1", claimUntil(clock))
		require.NoError(t, err)
		require.True(t, granted)
		require.NoError(t, s.MarkCodeReplayed(ctx, c.Hash))
		assert.ErrorIs(t, s.SettleCode(ctx, c.Hash, "a1", true), domain.ErrClaimLost)
		require.NoError(t, s.SettleCode(ctx, c.Hash, "a1", false))
		clock.Advance(20 * time.Second)
		got, granted, err := s.ClaimCode(ctx, c.Hash, "a2", claimUntil(clock))
		require.NoError(t, err)
		assert.False(t, granted)
		assert.True(t, got.Replayed)
		require.NoError(t, s.MarkCodeReplayed(ctx, uniq("never")), "marking a missing code is fine")
	})
	t.Run("concurrent claims: exactly one granted", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		for round := 0; round < 20; round++ {
			c := code(clock)
			require.NoError(t, s.CreateCode(ctx, c))
			var wg sync.WaitGroup
			var mu sync.Mutex
			granted := 0
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := s.ClaimCode(ctx, c.Hash, uniq("attempt"), claimUntil(clock))
					if err == nil && ok {
						mu.Lock()
						granted++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			require.Equal(t, 1, granted, "round %d", round)
		}
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

// RunUserClientRevocation tests revoking a user's grant to a client at the
// refresh token store.
func RunUserClientRevocation(t *testing.T, newStore func(t *testing.T, clock *Clock) UserClientRefreshStore) {
	ctx := context.Background()
	t.Run("revokes the families the client holds for the user, no others", func(t *testing.T) {
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
		require.NoError(t, s.RevokeUserClientTokens(ctx, user, "app", clock.Now()))
		for rt, want := range map[string]domain.RefreshStatus{
			hit1.Hash: domain.RefreshRevoked, hit2.Hash: domain.RefreshRevoked,
			otherClient.Hash: domain.RefreshActive, otherUser.Hash: domain.RefreshActive,
		} {
			got, err := s.FindRefreshToken(ctx, rt)
			require.NoError(t, err)
			assert.Equal(t, want, got.Status)
		}
	})
	t.Run("a family authorized before the revocation and created after is refused", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		runRevokedBeforeCreated(t, s, clock, func(user string, at time.Time) error {
			return s.RevokeUserClientTokens(ctx, user, "app", at)
		}, "app")
	})
	t.Run("race: a family created while the grant is revoked never survives", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		runRevokeRace(t, s, clock, func(user string, at time.Time) error {
			return s.RevokeUserClientTokens(ctx, user, "app", at)
		}, func(int) string { return "app" })
	})
}

// runRevokedBeforeCreated checks that a family authorized at or before a
// revocation (revoke revokes the user's grants as of at) and created after
// it, for any of clients, is refused, with nothing stored, and that one
// authorized after it is a new grant.
func runRevokedBeforeCreated(t *testing.T, s app.RefreshTokenStore, clock *Clock, revoke func(user string, at time.Time) error, clients ...string) {
	ctx := context.Background()
	user := uniq("user")
	authorized := clock.Now()
	clock.Advance(time.Second)
	require.NoError(t, revoke(user, clock.Now()))
	for _, client := range clients {
		late := refreshToken(uniq("fam"), clock)
		late.UserID, late.ClientID, late.AuthTime = user, client, authorized
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, late), domain.ErrRevoked, client)
		_, err := s.FindRefreshToken(ctx, late.Hash)
		assert.ErrorIs(t, err, domain.ErrNotFound, "nothing was stored")
	}
	clock.Advance(time.Second)
	fresh := refreshToken(uniq("fam"), clock)
	fresh.UserID, fresh.ClientID, fresh.AuthTime = user, clients[0], clock.Now()
	assert.NoError(t, s.CreateRefreshToken(ctx, fresh), "an authorization after the revocation is a new grant")
}

// runRevokeRace creates a family while the user's grants are revoked, 50
// times: whatever the interleaving, the family is refused or revoked.
func runRevokeRace(t *testing.T, s app.RefreshTokenStore, clock *Clock, revoke func(user string, at time.Time) error, client func(round int) string) {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		user := uniq("user")
		rt := refreshToken(uniq("fam"), clock)
		rt.UserID, rt.ClientID, rt.AuthTime = user, client(round), clock.Now()
		var createErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); createErr = s.CreateRefreshToken(ctx, rt) }()
		go func() { defer wg.Done(); assert.NoError(t, revoke(user, clock.Now())) }()
		wg.Wait()
		if createErr != nil {
			require.ErrorIs(t, createErr, domain.ErrRevoked, "round %d", round)
			continue
		}
		got, err := s.FindRefreshToken(ctx, rt.Hash)
		require.NoError(t, err)
		require.Equal(t, domain.RefreshRevoked, got.Status, "round %d: the token created under the revocation is revoked", round)
	}
}

// UserRefreshStore is a refresh token store that also revokes all of a
// user's grants.
type UserRefreshStore interface {
	app.RefreshTokenStore
	app.UserRevoker
}

// RunUserRevocation tests revoking everything a user granted at the
// refresh token store (a password change, a closed account).
func RunUserRevocation(t *testing.T, newStore func(t *testing.T, clock *Clock) UserRefreshStore) {
	ctx := context.Background()
	t.Run("revokes every family of the user, whatever the client, no others", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		user := uniq("user")
		mk := func(userID, clientID string) domain.RefreshToken {
			rt := refreshToken(uniq("fam"), clock)
			rt.UserID, rt.ClientID = userID, clientID
			require.NoError(t, s.CreateRefreshToken(ctx, rt))
			return rt
		}
		a, b := mk(user, "app"), mk(user, "other-app")
		otherUser := mk(uniq("u2"), "app")
		clientOnly := mk("", "app") // client_credentials has no user
		require.NoError(t, s.RevokeUserTokens(ctx, user, clock.Now()))
		for rt, want := range map[string]domain.RefreshStatus{
			a.Hash: domain.RefreshRevoked, b.Hash: domain.RefreshRevoked,
			otherUser.Hash: domain.RefreshActive, clientOnly.Hash: domain.RefreshActive,
		} {
			got, err := s.FindRefreshToken(ctx, rt)
			require.NoError(t, err)
			assert.Equal(t, want, got.Status)
		}
	})
	t.Run("a family authorized at or before the revocation and created after is refused", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		runRevokedBeforeCreated(t, s, clock, func(user string, at time.Time) error {
			return s.RevokeUserTokens(ctx, user, at)
		}, "app", "never-seen-app")
	})
	t.Run("a revocation stamped ahead refuses families until then", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		user := uniq("closed")
		require.NoError(t, s.RevokeUserTokens(ctx, user, clock.Now().Add(time.Hour)))
		clock.Advance(30 * time.Minute)
		rt := refreshToken(uniq("fam"), clock)
		rt.UserID, rt.AuthTime = user, clock.Now()
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, rt), domain.ErrRevoked)
		clock.Advance(20 * time.Minute)
		if sw, ok := s.(interface{ Sweep(context.Context) error }); ok {
			require.NoError(t, sw.Sweep(ctx))
		}
		rt = refreshToken(uniq("fam"), clock)
		rt.UserID, rt.AuthTime = user, clock.Now()
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, rt), domain.ErrRevoked, "a sweep keeps a mark that is still ahead")
	})
	t.Run("race: a family created while the user is revoked never survives", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		runRevokeRace(t, s, clock, func(user string, at time.Time) error {
			return s.RevokeUserTokens(ctx, user, at)
		}, func(round int) string { return fmt.Sprintf("app-%d", round%3) })
	})
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
