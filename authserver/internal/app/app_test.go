package app_test

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

func TestAuthenticateClient(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name     string
		cred     app.ClientCredentials
		wantCode domain.ErrorCode
	}{
		{"basic ok", app.ClientCredentials{ID: "pw", Secret: "pw-secret", Method: domain.ClientSecretBasic}, ""},
		{"post ok", app.ClientCredentials{ID: "pw", Secret: "pw-secret", Method: domain.ClientSecretPost}, ""},
		{"fast hash ok", app.ClientCredentials{ID: "svc", Secret: "svc-secret", Method: domain.ClientSecretBasic}, ""},
		{"public none ok", app.ClientCredentials{ID: "public", Method: domain.AuthNone}, ""},
		{"no client id", app.ClientCredentials{Method: domain.AuthNone}, domain.InvalidClient},
		{"unknown client", app.ClientCredentials{ID: "nobody", Secret: "x", Method: domain.ClientSecretBasic}, domain.InvalidClient},
		{"wrong secret", app.ClientCredentials{ID: "pw", Secret: "nope", Method: domain.ClientSecretBasic}, domain.InvalidClient},
		{"empty secret", app.ClientCredentials{ID: "pw", Secret: "", Method: domain.ClientSecretPost}, domain.InvalidClient},
		{"confidential without secret", app.ClientCredentials{ID: "pw", Method: domain.AuthNone}, domain.InvalidClient},
		{"method not registered", app.ClientCredentials{ID: "basic-only", Secret: "b-secret", Method: domain.ClientSecretPost}, domain.InvalidClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := w.auth.Authenticate(context.Background(), tc.cred)
			if tc.wantCode == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.cred.ID, c.ID)
				return
			}
			assert.Equal(t, tc.wantCode, domain.CodeOf(err), "%v", err)
		})
	}
}

// TestTokenErrors covers the RFC 6749 §5.2 errors each grant can give once
// the client is authenticated (invalid_client is TestAuthenticateClient's).
func TestTokenErrors(t *testing.T) {
	w := newWorld(t)
	pwr := w.mustExchange("pw-refresh", passwordReq())
	require.NotEmpty(t, pwr.RefreshToken)

	cases := []struct {
		name   string
		client string
		req    app.TokenRequest
		want   domain.ErrorCode
	}{
		{"missing grant_type", "pw", app.TokenRequest{}, domain.InvalidRequest},
		{"unknown grant_type", "pw", app.TokenRequest{GrantType: "urn:example:magic"}, domain.UnsupportedGrantType},
		{"authorization_code: client not allowed", "pw", app.TokenRequest{GrantType: "authorization_code"}, domain.UnauthorizedClient},
		{"implicit is no grant_type", "pw", app.TokenRequest{GrantType: "implicit"}, domain.UnsupportedGrantType},

		{"password: client not allowed", "svc", passwordReq(), domain.UnauthorizedClient},
		{"password: no username", "pw", app.TokenRequest{GrantType: "password", Password: "x"}, domain.InvalidRequest},
		{"password: no password", "pw", app.TokenRequest{GrantType: "password", Username: "alice"}, domain.InvalidRequest},
		{"password: wrong password", "pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "nope"}, domain.InvalidGrant},
		{"password: unknown user", "pw", app.TokenRequest{GrantType: "password", Username: "mallory", Password: "x"}, domain.InvalidGrant},
		{"password: scope not allowed", "pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password", Scope: domain.NewScope("admin")}, domain.InvalidScope},

		{"client_credentials: client not allowed", "pw", app.TokenRequest{GrantType: "client_credentials"}, domain.UnauthorizedClient},
		{"client_credentials: scope not allowed", "svc", app.TokenRequest{GrantType: "client_credentials", Scope: domain.NewScope("current_time", "admin")}, domain.InvalidScope},
		{"client_credentials: client without scopes asks one", "basic-only", app.TokenRequest{GrantType: "client_credentials", Scope: domain.NewScope("x")}, domain.InvalidScope},

		{"refresh: client not allowed", "pw", app.TokenRequest{GrantType: "refresh_token", RefreshToken: pwr.RefreshToken}, domain.UnauthorizedClient},
		{"refresh: missing token", "pw-refresh", app.TokenRequest{GrantType: "refresh_token"}, domain.InvalidRequest},
		{"refresh: unknown token", "pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: "nope"}, domain.InvalidGrant},
		{"refresh: another client's token", "public", app.TokenRequest{GrantType: "refresh_token", RefreshToken: pwr.RefreshToken}, domain.InvalidGrant},
		{"refresh: widening scope", "pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: pwr.RefreshToken, Scope: domain.NewScope("current_time", "admin")}, domain.InvalidScope},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.exchange(tc.client, tc.req)
			assert.Equal(t, tc.want, domain.CodeOf(err), "%v", err)
		})
	}
	// None of the failed refreshes above may have used the token up.
	_, err := w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: pwr.RefreshToken})
	assert.NoError(t, err)
}

func TestPasswordGrant(t *testing.T) {
	w := newWorld(t)
	resp := w.mustExchange("pw", passwordReq())
	assert.Equal(t, "Bearer", resp.TokenType)
	assert.EqualValues(t, 5, resp.ExpiresIn, "the client's own lifetime")
	assert.Empty(t, resp.RefreshToken, "no refresh token for a client without the refresh_token grant")
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), resp.Scope, "default scope")
	assert.Equal(t, "u-alice", resp.UserID)

	at, err := w.keys.VerifyAccessToken(context.Background(), resp.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "u-alice", at.Subject)
	assert.Equal(t, "pw", at.ClientID)
	assert.Equal(t, []string{"rs"}, at.Audience)
	assert.Equal(t, issuer, at.Issuer)
	assert.Equal(t, w.clock.Now().Add(5*time.Second), at.ExpiresAt)

	narrow := passwordReq()
	narrow.Scope = domain.NewScope("epoch_time")
	assert.Equal(t, domain.NewScope("epoch_time"), w.mustExchange("pw", narrow).Scope)

	withRefresh := w.mustExchange("pw-refresh", passwordReq())
	assert.NotEmpty(t, withRefresh.RefreshToken)
	assert.EqualValues(t, 60, withRefresh.ExpiresIn, "server default lifetime")
}

func TestPasswordGrantBruteForceLimit(t *testing.T) {
	w := newWorld(t)
	from := func(src, password string) app.TokenRequest {
		return app.TokenRequest{GrantType: "password", Username: "alice", Password: password, Source: src}
	}
	for range 3 {
		_, err := w.exchange("pw", from("198.51.100.1", "guess"))
		require.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
		assert.ErrorContains(t, err, "wrong username or password")
	}
	_, err := w.exchange("pw", from("198.51.100.1", "alice-password"))
	require.ErrorIs(t, err, domain.ErrThrottled, "throttled at that source, even with the right password")
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	var th *domain.Throttled
	require.ErrorAs(t, err, &th)
	assert.Equal(t, time.Second, th.RetryAfter)
	var pe *domain.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "too many failed attempts; try again in a second", pe.Description)

	_, err = w.exchange("pw", from("203.0.113.5", "alice-password"))
	assert.NoError(t, err, "the owner from another source is not slowed down")

	w.clock.Advance(time.Second)
	_, err = w.exchange("pw", from("198.51.100.1", "alice-password"))
	assert.NoError(t, err, "nor locked out where the guesses came from: throttled for a second")
	for range 3 {
		_, err := w.exchange("pw", from("198.51.100.1", "typo"))
		require.ErrorContains(t, err, "wrong username or password", "the success forgave that source's failures")
	}

	// Guessing at other accounts (all from the same first-party client,
	// so the same address) does not slow this one down.
	w2 := newWorld(t)
	for _, user := range []string{"a", "b", "c", "d", "e", "f"} {
		_, err := w2.exchange("pw", app.TokenRequest{GrantType: "password", Username: user, Password: "x"})
		require.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	}
	_, err = w2.exchange("pw", passwordReq())
	assert.NoError(t, err)
}

func TestClientCredentialsGrant(t *testing.T) {
	w := newWorld(t)
	resp := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})
	assert.Empty(t, resp.RefreshToken, "RFC 6749 §4.4.3")
	assert.Equal(t, domain.NewScope("current_time"), resp.Scope)
	at, err := w.keys.VerifyAccessToken(context.Background(), resp.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "svc", at.Subject, "RFC 9068 §2.2: no resource owner, the client is the subject")
	assert.Empty(t, at.GrantID)

	resp = w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials", Scope: domain.NewScope("current_time", "epoch_time")})
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), resp.Scope)
}

func TestRefreshRotation(t *testing.T) {
	w := newWorld(t)
	first := w.mustExchange("pw-refresh", passwordReq())
	second := w.mustExchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	require.NotEmpty(t, second.RefreshToken)
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "rotated on every use")
	assert.Equal(t, first.Scope, second.Scope)

	firstAT, err := w.keys.VerifyAccessToken(context.Background(), first.AccessToken)
	require.NoError(t, err)
	secondAT, err := w.keys.VerifyAccessToken(context.Background(), second.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, firstAT.GrantID, secondAT.GrantID, "one family")
	assert.Equal(t, "u-alice", secondAT.Subject)

	// Narrowing: the access token gets less, the family keeps its scope.
	narrowed := w.mustExchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken, Scope: domain.NewScope("epoch_time")})
	assert.Equal(t, domain.NewScope("epoch_time"), narrowed.Scope)
	full := w.mustExchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: narrowed.RefreshToken})
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), full.Scope, "RFC 6749 §6: the new refresh token keeps the original scope")

	// Expiry.
	w.clock.Advance(24*time.Hour + time.Second)
	_, err = w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: full.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	w := newWorld(t)
	first := w.mustExchange("pw-refresh", passwordReq())
	second := w.mustExchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	require.True(t, w.introspect("rs", second.AccessToken).Active)

	// An attacker replays the first (already rotated) token.
	_, err := w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))

	// The legitimate holder's current token is dead too, and so are the
	// access tokens the family issued.
	_, err = w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	assert.False(t, w.introspect("rs", second.AccessToken).Active)
	assert.False(t, w.introspect("rs", first.AccessToken).Active)

	// Another family of the same user is untouched.
	other := w.mustExchange("pw-refresh", passwordReq())
	assert.True(t, w.introspect("rs", other.AccessToken).Active)
}

func TestConcurrentRefreshSucceedsOnce(t *testing.T) {
	w := newWorld(t)
	first := w.mustExchange("pw-refresh", passwordReq())
	const n = 8
	var wg sync.WaitGroup
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		} else {
			assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
		}
	}
	assert.Equal(t, 1, ok)
}

func TestIntrospection(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pw := w.mustExchange("pw", passwordReq())
	pwr := w.mustExchange("pw-refresh", passwordReq())

	res := w.introspect("rs", pw.AccessToken)
	require.True(t, res.Active)
	assert.Equal(t, "u-alice", res.Access.Subject)
	assert.Equal(t, "pw", res.Access.ClientID)

	assert.True(t, w.introspect("pw", pw.AccessToken).Active, "a client may introspect its own token")
	assert.False(t, w.introspect("svc", pw.AccessToken).Active, "but not another client's, without the permission")

	refresh := w.introspect("pw-refresh", pwr.RefreshToken)
	require.True(t, refresh.Active)
	assert.Equal(t, "u-alice", refresh.Refresh.UserID)
	assert.False(t, w.introspect("rs", pwr.RefreshToken).Active, "refresh tokens are their client's business only")

	hinted, err := w.intro.Introspect(ctx, w.client("pw-refresh"), pwr.RefreshToken, app.HintAccessToken)
	require.NoError(t, err)
	assert.True(t, hinted.Active, "a wrong hint still finds the token")
	hinted, err = w.intro.Introspect(ctx, w.client("rs"), pw.AccessToken, app.HintRefreshToken)
	require.NoError(t, err)
	assert.True(t, hinted.Active)

	for _, junk := range []string{"garbage", "a.b.c", pw.AccessToken + "x"} {
		assert.False(t, w.introspect("rs", junk).Active, junk)
	}
	_, err = w.intro.Introspect(ctx, w.client("rs"), "", "")
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))

	w.clock.Advance(5 * time.Second)
	assert.False(t, w.introspect("rs", pw.AccessToken).Active, "expired at exp")
}

func TestRevocation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	at := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})
	require.True(t, w.introspect("rs", at.AccessToken).Active)
	err := w.revoker.Revoke(ctx, w.client("pw"), at.AccessToken, "")
	assert.Equal(t, domain.UnauthorizedClient, domain.CodeOf(err), "only the owner may revoke")
	assert.True(t, w.introspect("rs", at.AccessToken).Active)
	require.NoError(t, w.revoker.Revoke(ctx, w.client("svc"), at.AccessToken, app.HintAccessToken))
	assert.False(t, w.introspect("rs", at.AccessToken).Active, "revoked at once")

	pwr := w.mustExchange("pw-refresh", passwordReq())
	require.NoError(t, w.revoker.Revoke(ctx, w.client("pw-refresh"), pwr.RefreshToken, app.HintRefreshToken))
	_, err = w.exchange("pw-refresh", app.TokenRequest{GrantType: "refresh_token", RefreshToken: pwr.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	assert.False(t, w.introspect("rs", pwr.AccessToken).Active, "the family's access tokens go with it")

	assert.NoError(t, w.revoker.Revoke(ctx, w.client("svc"), "never-issued", ""), "RFC 7009 §2.2: unknown tokens answer 200")
	assert.NoError(t, w.revoker.Revoke(ctx, w.client("svc"), at.AccessToken, ""), "revoking twice is fine")
	err = w.revoker.Revoke(ctx, w.client("svc"), "", "")
	assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))

	// The mark is kept until the token's exp, then forgotten: nothing can
	// use the token any more, so nothing needs to remember it.
	claims, err := w.keys.VerifyAccessToken(ctx, at.AccessToken)
	require.NoError(t, err)
	revoked, err := w.store.Revoked(ctx, claims.IssuedAt, "jti:"+claims.ID)
	require.NoError(t, err)
	require.True(t, revoked)
	w.clock.Advance(claims.ExpiresAt.Sub(w.clock.Now()) + time.Second)
	revoked, err = w.store.Revoked(ctx, claims.IssuedAt, "jti:"+claims.ID)
	require.NoError(t, err)
	assert.False(t, revoked)
}

func TestAccessTokenNeverExpiresEarly(t *testing.T) {
	w := newWorld(t)
	w.clock.Advance(900 * time.Millisecond) // mid-second
	resp := w.mustExchange("pw", passwordReq())
	at, err := w.keys.VerifyAccessToken(context.Background(), resp.AccessToken)
	require.NoError(t, err)
	assert.False(t, at.ExpiresAt.Before(w.clock.Now().Add(5*time.Second)), "exp rounds up")
	assert.True(t, at.IssuedAt.Before(w.clock.Now()), "iat rounds down")
}

func TestAuditTrail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.mustExchange("pw", passwordReq())
	_, _ = w.exchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: "wrong-secret-value"})
	at := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, w.revoker.Revoke(ctx, w.client("svc"), at.AccessToken, ""))
	_, _ = w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "wrong-secret-value", Source: "10.1.1.1"})

	events, err := w.store.RecentAudit(ctx, 10)
	require.NoError(t, err)
	require.Len(t, events, 5)
	want := []struct {
		typ     domain.AuditType
		client  string
		user    string
		outcome domain.AuditOutcome
		detail  string
	}{
		{domain.AuditLoginFailed, "", "", domain.OutcomeFailure, "invalid_grant"},
		{domain.AuditTokenRevoked, "svc", "svc", domain.OutcomeSuccess, "access_token"},
		{domain.AuditTokenIssued, "svc", "", domain.OutcomeSuccess, "client_credentials"},
		{domain.AuditTokenRefused, "pw", "", domain.OutcomeFailure, "invalid_grant"},
		{domain.AuditTokenIssued, "pw", "u-alice", domain.OutcomeSuccess, "password"},
	}
	for i, wnt := range want {
		e := events[i]
		assert.Equal(t, wnt.typ, e.Type, "event %d", i)
		assert.Equal(t, wnt.client, e.ClientID, "event %d", i)
		assert.Equal(t, wnt.user, e.UserID, "event %d", i)
		assert.Equal(t, wnt.outcome, e.Outcome, "event %d", i)
		assert.Equal(t, wnt.detail, e.Detail, "event %d", i)
		assert.Equal(t, w.clock.Now(), e.Time)
		assert.NotContains(t, e.Detail, "wrong-secret-value", "never a secret")
	}
}
