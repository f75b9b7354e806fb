package authserver_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
)

// The programmatic token API against a server that also serves HTTP: what
// one door issues, the other sees.

var (
	webapp   = authserver.ClientAuth{ID: "1234", Secret: "qwerty"}
	rs       = authserver.ClientAuth{ID: "resourceserver", Secret: "resourceserver-secret"}
	service  = authserver.ClientAuth{ID: "service", Secret: serviceSecret}
	refresh  = authserver.ClientAuth{ID: "refresher", Secret: refresherSec}
	browserC = authserver.ClientAuth{ID: browserClient, Secret: browserSecret}
)

func alicePassword(c authserver.ClientAuth, scope string) authserver.PasswordRequest {
	return authserver.PasswordRequest{Client: c, Username: "alice", Password: "alice-password", Scope: scope}
}

// errCode is the RFC 6749 code of err, "" if it has none.
func errCode(err error) authserver.ErrorCode {
	var e *authserver.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestProgrammaticPasswordIntrospectRevoke(t *testing.T) {
	ts := start(t)
	ctx := context.Background()

	tok, err := ts.srv.PasswordToken(ctx, alicePassword(webapp, "epoch_time"))
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.Equal(t, 5*time.Second, tok.ExpiresIn)
	assert.Equal(t, authserver.NewScope("epoch_time"), tok.Scope)
	assert.Empty(t, tok.RefreshToken, "client 1234 gets no refresh token")

	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.True(t, in.Active)
	assert.Equal(t, "1234", in.ClientID)
	assert.Equal(t, "Bearer", in.TokenType)
	assert.Equal(t, ts.URL, in.Issuer)
	assert.NotEmpty(t, in.Subject)
	assert.NotEmpty(t, in.JWTID)
	assert.InDelta(t, tok.ExpiresIn.Seconds(), in.ExpiresAt.Sub(in.IssuedAt).Seconds(), 1, "iat and exp are whole seconds")

	// The HTTP endpoint says the same of the token.
	r := ts.post(t, "/oauth/introspect", url.Values{"token": {tok.AccessToken}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, true, r.body["active"])
	assert.Equal(t, in.Subject, r.body["sub"])

	// Another client sees nothing of it, nor can it revoke it.
	other, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: service, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.Equal(t, authserver.Introspection{}, other)
	err = ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: service, Token: tok.AccessToken})
	assert.ErrorIs(t, err, authserver.ErrUnauthorizedClient)

	require.NoError(t, ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: webapp, Token: tok.AccessToken, TokenTypeHint: authserver.HintAccessToken}))
	in, err = ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.False(t, in.Active)
	r = ts.post(t, "/oauth/introspect", url.Values{"token": {tok.AccessToken}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, map[string]any{"active": false}, r.body, "revoked for the HTTP door too")

	// RFC 7009 §2.2: an unknown token is no error.
	assert.NoError(t, ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: webapp, Token: "not-a-token"}))
	_, err = ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs})
	assert.ErrorIs(t, err, authserver.ErrInvalidRequest, "token is required")
}

func TestProgrammaticClientCredentials(t *testing.T) {
	ts := start(t)
	ctx := context.Background()

	tok, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
	require.NoError(t, err)
	assert.Equal(t, authserver.NewScope("current_time", "epoch_time"), tok.Scope)
	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: service, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.True(t, in.Active, "a client introspects its own token")
	assert.Equal(t, "service", in.Subject)

	_, err = ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service, Scope: "admin"})
	assert.ErrorIs(t, err, authserver.ErrInvalidScope)
	var pe *authserver.Error
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Description, `"admin"`)
}

func TestProgrammaticErrors(t *testing.T) {
	ts := start(t, authserver.WithGrants(authserver.GrantPassword, authserver.GrantRefreshToken))
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		want authserver.ErrorCode
	}{
		{"wrong secret", func() error {
			_, err := ts.srv.PasswordToken(ctx, alicePassword(authserver.ClientAuth{ID: "1234", Secret: "wrong"}, ""))
			return err
		}, "invalid_client"},
		{"unknown client", func() error {
			_, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: authserver.ClientAuth{ID: "nobody", Secret: "x"}})
			return err
		}, "invalid_client"},
		{"no client", func() error {
			_, err := ts.srv.PasswordToken(ctx, alicePassword(authserver.ClientAuth{}, ""))
			return err
		}, "invalid_client"},
		{"wrong password", func() error {
			_, err := ts.srv.PasswordToken(ctx, authserver.PasswordRequest{Client: webapp, Username: "alice", Password: "wrong"})
			return err
		}, "invalid_grant"},
		{"no username", func() error {
			_, err := ts.srv.PasswordToken(ctx, authserver.PasswordRequest{Client: webapp, Password: "x"})
			return err
		}, "invalid_request"},
		{"malformed scope", func() error {
			_, err := ts.srv.PasswordToken(ctx, alicePassword(webapp, "epoch_time  current_time"))
			return err
		}, "invalid_scope"},
		{"grant the client may not use", func() error {
			_, err := ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: webapp, RefreshToken: "x"})
			return err
		}, "unauthorized_client"},
		{"grant the server does not offer", func() error {
			_, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
			return err
		}, "unsupported_grant_type"},
		{"code exchange not offered", func() error {
			_, err := ts.srv.ExchangeCode(ctx, authserver.CodeExchangeRequest{Client: browserC, Code: "x"})
			return err
		}, "unsupported_grant_type"},
		{"introspection without a secret", func() error {
			_, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: authserver.ClientAuth{ID: "public-app"}, Token: "x"})
			return err
		}, "invalid_client"},
		{"unknown refresh token", func() error {
			_, err := ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: "nope"})
			return err
		}, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Error(t, err)
			assert.Equal(t, c.want, errCode(err), err.Error())
			assert.ErrorIs(t, err, &authserver.Error{Code: c.want})
		})
	}
}

func TestProgrammaticRefreshRotationAndReuse(t *testing.T) {
	ts := start(t)
	ctx := context.Background()

	first, err := ts.srv.PasswordToken(ctx, alicePassword(refresh, "current_time epoch_time"))
	require.NoError(t, err)
	require.NotEmpty(t, first.RefreshToken)
	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: refresh, Token: first.RefreshToken, TokenTypeHint: authserver.HintRefreshToken})
	require.NoError(t, err)
	assert.True(t, in.Active)
	assert.Empty(t, in.TokenType)

	narrowed, err := ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: first.RefreshToken, Scope: "epoch_time"})
	require.NoError(t, err)
	assert.Equal(t, authserver.NewScope("epoch_time"), narrowed.Scope)
	assert.NotEqual(t, first.RefreshToken, narrowed.RefreshToken, "rotated")
	_, err = ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: narrowed.RefreshToken, Scope: "admin"})
	assert.ErrorIs(t, err, authserver.ErrInvalidScope, "never wider than the grant")

	// Presenting the spent token again is reuse: the family goes, the
	// successor with it, over HTTP too.
	_, err = ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: first.RefreshToken})
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant)
	_, err = ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: narrowed.RefreshToken})
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant)
	r := ts.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {narrowed.RefreshToken}}, "refresher", refresherSec)
	assert.Equal(t, 400, r.status)
	assert.Equal(t, "invalid_grant", r.body["error"])
}

func TestProgrammaticRevokeRefreshTakesTheFamily(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	tok, err := ts.srv.PasswordToken(ctx, alicePassword(refresh, ""))
	require.NoError(t, err)
	require.NoError(t, ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: refresh, Token: tok.RefreshToken}))
	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.False(t, in.Active, "the access token issued with it is revoked too")
	_, err = ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: tok.RefreshToken})
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant)
}

func TestProgrammaticCodeExchange(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	b := signedIn(t, ts)

	exchange := func(code, verifier string) (authserver.Token, error) {
		return ts.srv.ExchangeCode(ctx, authserver.CodeExchangeRequest{Client: browserC, Code: code, RedirectURI: callback, CodeVerifier: verifier})
	}
	_, err := exchange(approveAgain(t, b), "wrong-verifier-0123456789012345678901234567890")
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant, "PKCE verifier does not match")

	code := approveAgain(t, b)
	tok, err := exchange(code, pkceVerifier)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, authserver.NewScope("current_time", "epoch_time"), tok.Scope)

	_, err = exchange(code, pkceVerifier)
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant, "a code works once")
	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.False(t, in.Active, "a replayed code revokes what it bought")
}

// The guessing limits hold for the programmatic door: failures from one
// address throttle that address, not the user elsewhere.
func TestProgrammaticPasswordGuessingIsThrottled(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	attacker := webapp
	attacker.Addr = netip.MustParseAddr("198.51.100.7")
	var err error
	for range 10 {
		_, err = ts.srv.PasswordToken(ctx, authserver.PasswordRequest{Client: attacker, Username: "alice", Password: "guess"})
		if errors.Is(err, authserver.ErrThrottled) {
			break
		}
		require.ErrorIs(t, err, authserver.ErrInvalidGrant)
	}
	require.ErrorIs(t, err, authserver.ErrThrottled, "throttled within 10 guesses")
	var th *authserver.Throttled
	require.ErrorAs(t, err, &th)
	assert.Positive(t, th.RetryAfter)
	assert.ErrorIs(t, err, authserver.ErrInvalidGrant, "answered as invalid_grant, as at the endpoint")

	_, err = ts.srv.PasswordToken(ctx, authserver.PasswordRequest{Client: attacker, Username: "alice", Password: "alice-password"})
	assert.ErrorIs(t, err, authserver.ErrThrottled, "even the right password waits at the throttled address")
	owner := webapp
	owner.Addr = netip.MustParseAddr("203.0.113.9")
	_, err = ts.srv.PasswordToken(ctx, alicePassword(owner, ""))
	assert.NoError(t, err, "the owner elsewhere is not locked out")
}

// The per-client request budget is one, whichever door spends it.
func TestProgrammaticCallsSpendTheClientsBudget(t *testing.T) {
	ts := start(t, authserver.WithRateLimits(authserver.RateLimits{
		Source: authserver.RateLimit{PerSecond: 1000, Burst: 1000},
		Client: authserver.RateLimit{PerSecond: 0.001, Burst: 3},
	}))
	ctx := context.Background()
	for range 2 {
		_, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
		require.NoError(t, err)
	}
	r := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, r.status, "the third request of the burst, over HTTP")

	_, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
	require.ErrorIs(t, err, authserver.ErrRateLimited)
	var rl *authserver.RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Positive(t, rl.RetryAfter)
	r = ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	assert.Equal(t, 429, r.status, "spent for the HTTP door too")

	_, err = ts.srv.PasswordToken(ctx, alicePassword(webapp, ""))
	assert.NoError(t, err, "another client has its own budget")
}

// Fifty rotations of one refresh token at once: exactly one wins, and
// the others, reuse of a spent token, take the winner's family down.
func TestRaceProgrammaticRefresh(t *testing.T) {
	for name, storage := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, storage(t)...)
			ctx := context.Background()
			tok, err := ts.srv.PasswordToken(ctx, alicePassword(refresh, ""))
			require.NoError(t, err)

			var wins atomic.Int32
			var winner authserver.Token
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, raceRounds)
			for range raceRounds {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					got, err := ts.srv.Refresh(ctx, authserver.RefreshRequest{Client: refresh, RefreshToken: tok.RefreshToken})
					if err != nil {
						errs <- err
						return
					}
					if wins.Add(1) == 1 {
						winner = got
					}
				}()
			}
			close(start)
			wg.Wait()
			close(errs)
			require.Equal(t, int32(1), wins.Load(), "exactly one rotation wins")
			for err := range errs {
				require.ErrorIs(t, err, authserver.ErrInvalidGrant)
			}
			in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: refresh, Token: winner.RefreshToken})
			require.NoError(t, err)
			assert.False(t, in.Active, "the losers were reuse: the winner's family is revoked")
		})
	}
}

// flakyRevocations is the memory revocation store behind a switch that
// makes it an outage.
type flakyRevocations struct {
	app.RevocationStore
	down atomic.Bool
}

func (f *flakyRevocations) Revoke(ctx context.Context, id string, at, until time.Time) error {
	if f.down.Load() {
		return authserver.ErrUnavailable
	}
	return f.RevocationStore.Revoke(ctx, id, at, until)
}

func (f *flakyRevocations) Revoked(ctx context.Context, iat time.Time, ids ...string) (bool, error) {
	if f.down.Load() {
		return false, authserver.ErrUnavailable
	}
	return f.RevocationStore.Revoked(ctx, iat, ids...)
}

// A backend outage is ErrUnavailable at once, and a revocation that was
// acknowledged holds once the backend is back.
func TestProgrammaticAPIDuringAnOutage(t *testing.T) {
	rev := &flakyRevocations{RevocationStore: memory.New(time.Now, app.LimitPolicy{})}
	ts := start(t, authserver.WithStores(authserver.Stores{Revocations: rev}))
	ctx := context.Background()
	tok, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
	require.NoError(t, err)
	other, err := ts.srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: service})
	require.NoError(t, err)

	rev.down.Store(true)
	began := time.Now()
	_, err = ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	assert.ErrorIs(t, err, authserver.ErrUnavailable)
	err = ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: service, Token: tok.AccessToken})
	assert.ErrorIs(t, err, authserver.ErrUnavailable, "not acknowledged")
	assert.Less(t, time.Since(began), 5*time.Second, "fast")

	rev.down.Store(false)
	in, err := ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: tok.AccessToken})
	require.NoError(t, err)
	assert.True(t, in.Active, "the refused revocation changed nothing")
	require.NoError(t, ts.srv.Revoke(ctx, authserver.RevokeRequest{Client: service, Token: other.AccessToken}))
	rev.down.Store(true)
	rev.down.Store(false)
	in, err = ts.srv.Introspect(ctx, authserver.IntrospectRequest{Client: rs, Token: other.AccessToken})
	require.NoError(t, err)
	assert.False(t, in.Active, "an acknowledged revocation holds")
}
