package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// holdings is everything alice holds, one of each: what a password change
// or a closed account must take down.
type holdings struct {
	password app.TokenResponse // password grant, no refresh token
	refresh  app.TokenResponse // password grant with a refresh token
	code     app.TokenResponse // code flow, with a refresh token
	pending  string            // a code approved, not yet exchanged
	page     string            // the login page's session token
	api      string            // the accounts API's session token
}

func (w *world) holdAll(t *testing.T) holdings {
	t.Helper()
	ctx := context.Background()
	var h holdings
	h.password = w.mustExchange("pw", passwordReq())
	h.refresh = w.mustExchange("pw-refresh", passwordReq())
	h.code = w.mustExchange("web", codeTokenReq("web", w.approve(t, codeReq("web"))))
	h.pending = w.approve(t, codeReq("web"))
	var err error
	h.page, _, err = w.accounts.StartSession(ctx, w.alice(), app.SessionStart{Door: domain.DoorPage})
	require.NoError(t, err)
	h.api, _, err = w.accounts.OpenSession(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "192.0.2.1"},
		app.SessionStart{Door: domain.DoorAPI, Source: "192.0.2.1", UserAgent: "test"})
	require.NoError(t, err)
	for _, tok := range []app.TokenResponse{h.password, h.refresh, h.code} {
		require.True(t, w.alive(tok))
	}
	return h
}

// requireNothingAlive checks that nothing of h works any more.
func (w *world) requireNothingAlive(t *testing.T, h holdings) {
	t.Helper()
	ctx := context.Background()
	for name, tok := range map[string]app.TokenResponse{"password grant": h.password, "with refresh": h.refresh, "code flow": h.code} {
		assert.False(t, w.alive(tok), "%s: still alive", name)
		if tok.RefreshToken != "" {
			client := "pw-refresh"
			if name == "code flow" {
				client = "web"
			}
			_, err := w.exchange(client, app.TokenRequest{GrantType: "refresh_token", RefreshToken: tok.RefreshToken})
			assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "%s: refreshed", name)
		}
	}
	_, err := w.exchange("web", codeTokenReq("web", h.pending))
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the outstanding code still works")
	for _, tok := range []string{h.page, h.api} {
		_, err := w.accounts.Session(ctx, tok)
		assert.ErrorIs(t, err, app.ErrNoSession)
	}
	consents, err := w.store.ListConsents(ctx, "u-alice")
	require.NoError(t, err)
	assert.Empty(t, consents, "the grants are gone")
}

func TestChangePasswordEndsEverything(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := w.holdAll(t)
	w.clock.Advance(300 * time.Millisecond)
	var waited time.Duration
	accounts := w.accountsWith(func(d time.Duration) { waited = d })

	err := accounts.ChangePassword(ctx, app.PasswordChange{UserID: "u-alice", Current: "wrong one", Updated: "a new password", Source: "s"})
	require.ErrorIs(t, err, &domain.Error{Code: domain.AccessDenied})
	assertField(t, err, app.FieldCurrentPassword)
	err = accounts.ChangePassword(ctx, app.PasswordChange{UserID: "u-alice", Current: "alice-password", Updated: "short", Source: "s"})
	assertField(t, err, app.FieldNewPassword)
	for _, tok := range []app.TokenResponse{h.password, h.refresh, h.code} {
		require.True(t, w.alive(tok), "a refused change takes nothing down")
	}

	require.NoError(t, accounts.ChangePassword(ctx, app.PasswordChange{
		UserID: "u-alice", Current: "alice-password", Updated: "a new password", Source: "s",
	}))
	assert.Equal(t, 700*time.Millisecond, waited, "the answer waits out the second of the change")
	w.requireNothingAlive(t, h)

	_, err = w.exchange("pw", passwordReq())
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the old password is refused")
	w.clock.Advance(700 * time.Millisecond) // the next second, as the answer waited for
	fresh := w.mustExchange("pw-refresh", app.TokenRequest{GrantType: "password", Username: "alice", Password: "a new password"})
	assert.True(t, w.alive(fresh), "a token issued with the new password, after the answer, works")
	code := w.mustExchange("web", codeTokenReq("web", w.approve(t, codeReq("web"))))
	assert.True(t, w.alive(code), "so does a new grant")

	events, err := w.store.RecentAudit(ctx, 20)
	require.NoError(t, err)
	assert.Contains(t, auditTypes(events), domain.AuditUserChanged)
}

func auditTypes(events []domain.AuditEvent) []domain.AuditType {
	out := make([]domain.AuditType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var fe *domain.FieldError
	if assert.ErrorAs(t, err, &fe) {
		assert.Equal(t, field, fe.Field)
	}
}

// accountsWith is the world's Accounts with another wait.
func (w *world) accountsWith(wait func(time.Duration)) *app.Accounts {
	return app.NewAccounts(app.AccountsDeps{
		Users: w.store, Passwords: w.hasher, Hasher: w.hasher, Limiter: w.store.Limiter(), Text: w.text,
		Sessions: w.store, DecoyHash: w.decoy, Policy: app.PasswordPolicy{MinLength: 8, MaxLength: 64},
		Lifetimes: app.SessionPolicy{TTL: time.Hour, MaxTTL: 24 * time.Hour, PerUser: 5},
		Consents:  w.store, Refresh: w.store, Revocations: w.store, MaxAccessTTL: time.Hour,
		Now: w.clock.Now, Wait: wait, Audit: w.store,
	})
}

// blockingHasher holds the verification of one password until released:
// a sign-in caught between its check and its tokens.
type blockingHasher struct {
	app.SecretVerifier
	password string
	checked  chan struct{}
	release  chan struct{}
	once     sync.Once
}

func (b *blockingHasher) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	ok, err := b.SecretVerifier.VerifySecret(ctx, hash, secret)
	if secret == b.password {
		b.once.Do(func() { close(b.checked); <-b.release })
	}
	return ok, err
}

// signInDuringChange runs a password grant for client with password
// whose check is held until ChangePassword, from password to next, has
// finished: a sign-in caught between its check and its tokens.
func (w *world) signInDuringChange(t *testing.T, client, password, next string) (app.TokenResponse, error) {
	t.Helper()
	slow := &blockingHasher{SecretVerifier: w.hasher, password: password, checked: make(chan struct{}), release: make(chan struct{})}
	grant := app.NewTokenEndpoint(nil, w.clock.Now, app.NewPasswordGrant(app.Credentials{
		Users: w.store, Passwords: slow, Limiter: w.store.Limiter(), Text: w.text, DecoyHash: w.decoy,
	}, w.minter))
	var (
		resp app.TokenResponse
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		resp, err = grant.Exchange(context.Background(), w.client(client), app.TokenRequest{GrantType: "password", Username: "alice", Password: password})
	}()
	<-slow.checked
	w.clock.Advance(2 * time.Second)
	require.NoError(t, w.accounts.ChangePassword(context.Background(), app.PasswordChange{UserID: "u-alice", Current: password, Updated: next}))
	w.clock.Advance(2 * time.Second)
	close(slow.release)
	<-done
	return resp, err
}

// A password grant that checked the old password just before the change,
// and mints its tokens just after, gets nothing that works: its issue time
// was taken before its check.
func TestPasswordGrantRacingAChangeGetsNothingThatWorks(t *testing.T) {
	w := newWorld(t)
	// The refresh token's family is refused at creation: an invalid_grant,
	// and nothing issued.
	resp, err := w.signInDuringChange(t, "pw-refresh", "alice-password", "changed password")
	require.ErrorIs(t, err, &domain.Error{Code: domain.InvalidGrant})
	assert.Empty(t, resp.AccessToken)

	// Without a refresh token the access token is minted, and dead.
	resp, err = w.signInDuringChange(t, "pw", "changed password", "changed again")
	require.NoError(t, err)
	assert.False(t, w.alive(resp), "the token of a check made before the change outlives it")
}

// A login page sign-in that checked the old password gets no session if
// the password changed before its session was stored.
func TestSessionOfASignInRacingAChangeIsRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before := w.alice()
	require.NoError(t, w.accounts.ChangePassword(ctx, app.PasswordChange{UserID: "u-alice", Current: "alice-password", Updated: "changed password"}))
	_, _, err := w.accounts.StartSession(ctx, before, app.SessionStart{Door: domain.DoorPage})
	require.ErrorIs(t, err, &domain.Error{Code: domain.InvalidGrant})
	list, err := w.accounts.UserSessions(ctx, "u-alice")
	require.NoError(t, err)
	assert.Empty(t, list, "the session stored before the re-check is gone")

	require.NoError(t, w.accounts.DeleteAccount(ctx, "u-alice", "changed password", "s"))
	_, _, err = w.accounts.StartSession(ctx, before, app.SessionStart{Door: domain.DoorAPI})
	assert.Error(t, err, "nor for a closed account")
	list, err = w.accounts.UserSessions(ctx, "u-alice")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// Of 50 changes proving the same current password at once, one wins; only
// its new password works.
func TestRaceConcurrentPasswordChanges(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	errs := all(50, func() error {
		mu.Lock()
		n++
		pw := fmt.Sprintf("new password %02d", n)
		mu.Unlock()
		err := w.accounts.ChangePassword(ctx, app.PasswordChange{
			UserID: "u-alice", Current: "alice-password", Updated: pw, Source: "s",
		})
		if err == nil {
			return errors.New(pw) // the winner says which
		}
		return err
	})
	var winner string
	for _, err := range errs {
		switch {
		case errors.Is(err, app.ErrChangedMeanwhile), errors.Is(err, domain.ErrThrottled),
			errors.Is(err, &domain.Error{Code: domain.AccessDenied}): // checked after the winner wrote
		default:
			require.Empty(t, winner, "two winners: %s and %v", winner, err)
			winner = err.Error()
		}
	}
	require.NotEmpty(t, winner)
	w.clock.Advance(time.Hour)
	for i := 1; i <= 50; i++ {
		pw := fmt.Sprintf("new password %02d", i)
		_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: pw, Source: pw})
		assert.Equal(t, pw == winner, err == nil, "%s: %v", pw, err)
	}
}

func TestDeleteAccountCascades(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := w.holdAll(t)

	err := w.accounts.DeleteAccount(ctx, "u-alice", "wrong", "s")
	require.ErrorIs(t, err, &domain.Error{Code: domain.AccessDenied})
	assertField(t, err, app.FieldPassword)
	_, err = w.store.FindUser(ctx, "u-alice")
	require.NoError(t, err, "a wrong password closes nothing")

	require.NoError(t, w.accounts.DeleteAccount(ctx, "u-alice", "alice-password", "s"))
	w.requireNothingAlive(t, h)
	_, err = w.store.FindUser(ctx, "u-alice")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = w.exchange("pw", passwordReq())
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	assert.ErrorIs(t, w.accounts.DeleteAccount(ctx, "u-alice", "alice-password", "s"), app.ErrNoSession, "twice")

	again, err := w.accounts.Signup(ctx, "alice", "alice-password", app.Profile{})
	require.NoError(t, err, "the name is free again")
	assert.NotEqual(t, "u-alice", again.ID)
	w.clock.Advance(time.Second)
	fresh := w.mustExchange("pw", passwordReq())
	assert.True(t, w.alive(fresh), "the new alice is another user: the old one's revocations do not touch her")
}

func TestRaceConcurrentDeletions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	errs := all(50, func() error { return w.accounts.DeleteAccount(ctx, "u-alice", "alice-password", "s") })
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		assert.True(t, errors.Is(err, app.ErrNoSession) || errors.Is(err, domain.ErrThrottled), "%v", err)
	}
	assert.Equal(t, 1, won)
	_, err := w.store.FindUser(ctx, "u-alice")
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

func TestAPISessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	open := func() (string, domain.Session) {
		t.Helper()
		tok, s, err := w.accounts.OpenSession(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "192.0.2.1"},
			app.SessionStart{Door: domain.DoorAPI, Source: "192.0.2.1", UserAgent: string(make([]byte, 300))})
		require.NoError(t, err)
		w.clock.Advance(time.Second)
		return tok, s
	}
	tok, mine := open()
	assert.Len(t, mine.UserAgent, domain.MaxUserAgentBytes, "the user agent is cut")
	caller, err := w.accounts.BearerSession(ctx, tok, "192.0.2.1")
	require.NoError(t, err)
	assert.Equal(t, mine.Hash, caller.Hash)
	_, other := open()

	got, err := w.accounts.SessionOf(ctx, caller, other.ID())
	require.NoError(t, err)
	assert.Equal(t, other.Hash, got.Hash, "another session of the same user")
	_, err = w.accounts.SessionOf(ctx, domain.Session{Hash: "x", UserID: "u-bob"}, other.ID())
	assert.ErrorIs(t, err, app.ErrNoSuchSession, "never another user's")
	_, err = w.accounts.SessionOf(ctx, caller, "not-an-id")
	assert.ErrorIs(t, err, app.ErrNoSuchSession)

	// Extended up to a day after it began, never beyond.
	ext, err := w.accounts.ExtendSession(ctx, caller, mine.ID(), w.clock.Now().Add(48*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, mine.CreatedAt.Add(24*time.Hour), ext.ExpiresAt, "capped")
	_, err = w.accounts.ExtendSession(ctx, caller, mine.ID(), w.clock.Now().Add(-time.Second))
	assertField(t, err, app.FieldExpiresAt)
	w.clock.Advance(2 * time.Hour)
	_, err = w.accounts.BearerSession(ctx, tok, "192.0.2.1")
	require.NoError(t, err, "alive past its first expiry")
	_, err = w.accounts.ExtendSession(ctx, caller, other.ID(), w.clock.Now().Add(time.Hour))
	assert.ErrorIs(t, err, app.ErrNoSuchSession, "the other one expired: it cannot come back")

	require.NoError(t, w.accounts.EndSessionByID(ctx, caller, mine.ID()))
	_, err = w.accounts.BearerSession(ctx, tok, "192.0.2.1")
	assert.ErrorIs(t, err, app.ErrBadSessionToken)
}

// A user keeps at most PerUser sessions (5 here): the oldest go.
func TestSessionsPerUserAreBounded(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var tokens []string
	for range 8 {
		tok, _, err := w.accounts.StartSession(ctx, w.alice(), app.SessionStart{Door: domain.DoorPage})
		require.NoError(t, err)
		tokens = append(tokens, tok)
		w.clock.Advance(time.Second)
	}
	list, err := w.accounts.UserSessions(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, list, 5)
	for i, tok := range tokens {
		_, err := w.accounts.Session(ctx, tok)
		assert.Equal(t, i >= 3, err == nil, "session %d", i)
	}
}

// Bearer session tokens are counted like password guesses: past the free
// failures (3 per source here) a source waits, even with a good token.
// Session tokens and access tokens never stand in for each other.
func TestBearerSessionTokens(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tok, _, err := w.accounts.OpenSession(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "a"},
		app.SessionStart{Door: domain.DoorAPI})
	require.NoError(t, err)
	assert.False(t, w.introspect("rs", tok).Active, "a session token is no access token")
	access := w.mustExchange("pw", passwordReq()).AccessToken
	_, err = w.accounts.BearerSession(ctx, access, "203.0.113.9")
	assert.ErrorIs(t, err, app.ErrBadSessionToken, "nor an access token a session token")

	for _, guess := range []string{"", "x", string(make([]byte, 500))} {
		_, err := w.accounts.BearerSession(ctx, guess, "203.0.113.1")
		assert.ErrorIs(t, err, app.ErrBadSessionToken)
	}
	_, err = w.accounts.BearerSession(ctx, tok, "203.0.113.1")
	assert.ErrorIs(t, err, domain.ErrThrottled, "the source guessed too often")
	_, err = w.accounts.BearerSession(ctx, tok, "203.0.113.2")
	assert.NoError(t, err, "another source is not slowed")
	w.clock.Advance(time.Minute)
	_, err = w.accounts.BearerSession(ctx, tok, "203.0.113.1")
	assert.NoError(t, err, "after the wait, it goes through")
}
