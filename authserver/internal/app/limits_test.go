package app_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// all runs f n times at once and returns the errors.
func all(n int, f func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts errors by what they are.
func tally(t *testing.T, errs []error) (wrong, throttled int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case errors.Is(err, domain.ErrThrottled):
			throttled++
		case err != nil && strings.Contains(err.Error(), "wrong username or password"),
			err != nil && strings.Contains(err.Error(), "client authentication failed"):
			wrong++
		default:
			t.Errorf("unexpected answer: %v", err)
		}
	}
	return wrong, throttled
}

// 300 guesses sent together: at most the free failures of the account and
// source are evaluated (each is reserved before its hash runs), the rest
// are refused without a hash; the owner still gets in from elsewhere.
func TestConcurrentPasswordGuessesEvaluateAtMostTheLimit(t *testing.T) {
	w := newWorld(t)
	errs := all(300, func() error {
		_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "guess", Source: "198.51.100.1"})
		return err
	})
	wrong, throttled := tally(t, errs)
	assert.Equal(t, 3, wrong, "the free failures of one account and source")
	assert.Equal(t, 297, throttled)
	assert.EqualValues(t, 3, w.hasher.slow.Load(), "one password hash per guess evaluated, none for the rest")

	_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password", Source: "198.51.100.1"})
	assert.ErrorIs(t, err, domain.ErrThrottled, "that source waits, right password or not")
	_, err = w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password", Source: "203.0.113.5"})
	assert.NoError(t, err, "the owner from a source that has not been failing")
}

// The same person signing in many times at once from one address (tabs,
// a client's worker pool) is not refused: attempts past the free ones wait
// in line for those in flight, and each success frees a place.
func TestConcurrentRightPasswordsAllGetIn(t *testing.T) {
	w := newWorld(t)
	errs := all(20, func() error {
		_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password", Source: "198.51.100.1"})
		return err
	})
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.Zero(t, w.store.Limiter().Len(), "nothing left counted")
}

// The same on the login page, where one address also has a limit over
// every account: a browser alice signed in on before still gets in from
// that address, and so does alice from another.
func TestConcurrentLoginGuessesEvaluateAtMostTheLimit(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before, err := w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "192.0.2.1"})
	require.NoError(t, err)
	w.hasher.slow.Store(0)

	const shared = "192.0.2.1" // a NAT: the attacker and alice behind it
	errs := all(300, func() error {
		_, err := w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "guess", Source: shared})
		return err
	})
	wrong, throttled := tally(t, errs)
	assert.Equal(t, 3, wrong)
	assert.Equal(t, 297, throttled)
	assert.EqualValues(t, 3, w.hasher.slow.Load())

	// Spraying other accounts from there is slowed by the per-source limit.
	_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: "bob", Password: "guess", Source: shared})
	assert.ErrorIs(t, err, domain.ErrThrottled)

	_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: shared})
	assert.ErrorIs(t, err, domain.ErrThrottled, "a new browser behind that address waits")
	res, err := w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: shared, Device: before.Device})
	require.NoError(t, err, "the browser alice signed in on before does not")
	assert.Equal(t, "u-alice", res.User.ID)
	_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "203.0.113.5"})
	assert.NoError(t, err, "nor does alice from another address")

	// A forged or foreign device token is ignored: counted by source.
	for _, dev := range []string{"x.1.y", before.Device + "x", strings.Repeat("a", 5000)} {
		_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: shared, Device: dev})
		assert.ErrorIs(t, err, domain.ErrThrottled)
	}
}

// Guessing spread over many sources meets the per-account ceiling.
func TestDistributedGuessingMeetsTheAccountCeiling(t *testing.T) {
	w := newWorld(t)
	src := 0
	guess := func() error {
		src++
		_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "guess", Source: strconv.Itoa(src)})
		return err
	}
	for range 10 {
		require.ErrorContains(t, guess(), "wrong username or password")
	}
	assert.ErrorIs(t, guess(), domain.ErrThrottled, "the 11th failure on the account, from a fresh source")
}

// Attempts that never got checked (the hash queue was full, the caller
// left) are not counted: an outage does not throttle anyone.
func TestUncheckedAttemptsAreNotCounted(t *testing.T) {
	w := newWorld(t)
	w.hasher.fail = domain.RetryAfter(errors.New("queue full"), 0)
	for range 10 {
		_, err := w.exchange("pw", passwordReq())
		require.ErrorIs(t, err, domain.ErrUnavailable)
	}
	w.hasher.fail = nil
	_, err := w.exchange("pw", passwordReq())
	assert.NoError(t, err)
}

// Identifiers are bounded before anything is looked up, hashed or counted.
func TestLongIdentifiersAreRefusedFirst(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	long := strings.Repeat("a", 20<<10)
	_, err := w.exchange("pw", app.TokenRequest{GrantType: "password", Username: long, Password: "x"})
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
	_, err = w.exchange("pw", app.TokenRequest{GrantType: "password", Username: strings.Repeat("é", 33), Password: "x"})
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err), "64 bytes, not characters")
	_, err = w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "two words", Password: "x"})
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err), "what PRECIS refuses")
	_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: long, Password: "x"})
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
	_, err = w.auth.Authenticate(ctx, app.ClientCredentials{ID: strings.Repeat("c", 129), Secret: "s", Method: domain.ClientSecretBasic})
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
	assert.Zero(t, w.hasher.slow.Load())
	assert.Zero(t, w.store.Limiter().Len(), "nothing was counted")

	_, err = w.exchange("pw", app.TokenRequest{GrantType: "password", Username: strings.Repeat("a", 64), Password: "x"})
	assert.ErrorContains(t, err, "wrong username or password", "64 bytes is fine")
}

// Every failed client authentication looks the same, in answer and in
// cost: an unknown client, a wrong secret, a method the client does not
// use, a wrong secret of a fast hash all answer invalid_client and run one
// argon2id. A right secret that can be told cheaply runs none.
func TestClientAuthenticationFailuresLookAlike(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cases := map[string]app.ClientCredentials{
		"unknown client":          {ID: "nobody", Secret: "x", Method: domain.ClientSecretBasic},
		"wrong secret (argon2id)": {ID: "pw", Secret: "x", Method: domain.ClientSecretBasic},
		"wrong secret (fast)":     {ID: "svc", Secret: "x", Method: domain.ClientSecretPost},
		"method not registered":   {ID: "basic-only", Secret: "b-secret", Method: domain.ClientSecretPost},
		"empty secret":            {ID: "pw", Method: domain.ClientSecretBasic},
	}
	for name, cred := range cases {
		t.Run(name, func(t *testing.T) {
			cred.Source = name
			before := w.hasher.slow.Load()
			_, err := w.auth.Authenticate(ctx, cred)
			var pe *domain.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, domain.InvalidClient, pe.Code)
			assert.Equal(t, "client authentication failed", pe.Description)
			assert.EqualValues(t, 1, w.hasher.slow.Load()-before, "one argon2id")
		})
	}
	t.Run("right secrets", func(t *testing.T) {
		before := w.hasher.slow.Load()
		_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "svc", Secret: "svc-secret", Method: domain.ClientSecretBasic})
		require.NoError(t, err)
		assert.EqualValues(t, 0, w.hasher.slow.Load()-before, "a generated secret's fast hash")
		for range 3 {
			_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "pw", Secret: "pw-secret", Method: domain.ClientSecretBasic})
			require.NoError(t, err)
		}
		assert.EqualValues(t, 1, w.hasher.slow.Load()-before, "a typed-in secret: once, then from the cache")
	})
	t.Run("public clients", func(t *testing.T) {
		_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "public", Method: domain.AuthNone})
		require.NoError(t, err)
		for _, id := range []string{"nobody", "pw"} {
			_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: id, Method: domain.AuthNone})
			assert.ErrorContains(t, err, "client authentication failed", id)
		}
	})
}

// Guessing a client's secret is throttled like a password, and never slows
// the client itself down.
func TestClientSecretGuessesAreThrottled(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "pw", Secret: "pw-secret", Method: domain.ClientSecretBasic, Source: "10.0.0.1"})
	require.NoError(t, err, "the client's secret is now known to the cache")
	w.hasher.slow.Store(0)

	errs := all(300, func() error {
		_, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "pw", Secret: "guess", Method: domain.ClientSecretBasic, Source: "10.0.0.1"})
		return err
	})
	wrong, throttled := tally(t, errs)
	assert.Equal(t, 3, wrong)
	assert.Equal(t, 297, throttled)
	assert.EqualValues(t, 3, w.hasher.slow.Load())
	var pe *domain.Error
	require.ErrorAs(t, errs[0], &pe)
	assert.Equal(t, domain.InvalidClient, pe.Code, "a throttled client answers invalid_client")

	_, err = w.auth.Authenticate(ctx, app.ClientCredentials{ID: "pw", Secret: "pw-secret", Method: domain.ClientSecretBasic, Source: "10.0.0.1"})
	assert.NoError(t, err, "the client itself, from the same address, is not slowed")

	// Spraying unknown client ids from one address pays the decoy hash
	// only as often as the per-source limit allows.
	w.hasher.slow.Store(0)
	for i := range 10 {
		_, _ = w.auth.Authenticate(ctx, app.ClientCredentials{ID: "spray" + strconv.Itoa(i), Secret: "x", Method: domain.ClientSecretBasic, Source: "10.9.9.9"})
	}
	assert.EqualValues(t, 3, w.hasher.slow.Load())
}
