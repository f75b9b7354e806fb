package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// fakeIDTokens signs ID tokens as opaque handles to the claims it keeps,
// and verifies only handles it issued: enough to test what the use cases
// put in an ID token and how they treat hints. (jwtkeys signs real ones;
// its tests and the server's check the JWTs.)
type fakeIDTokens struct {
	algs   []string
	mu     sync.Mutex
	issued map[string]signedID
	down   error
}

type signedID struct {
	alg    string
	claims domain.IDToken
}

func newFakeIDTokens(algs ...string) *fakeIDTokens {
	return &fakeIDTokens{algs: algs, issued: map[string]signedID{}}
}

func (f *fakeIDTokens) SignIDToken(_ context.Context, alg string, t domain.IDToken) (string, error) {
	if !slices.Contains(f.algs, alg) {
		return "", fmt.Errorf("no %s key", alg)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	handle := fmt.Sprintf("idt-%d", len(f.issued)+1)
	f.issued[handle] = signedID{alg: alg, claims: t}
	return handle, nil
}

func (f *fakeIDTokens) IDTokenAlgs() []string { return f.algs }

func (f *fakeIDTokens) VerifyIDToken(_ context.Context, token string) (domain.IDToken, error) {
	if f.down != nil {
		return domain.IDToken{}, f.down
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.issued[token]
	if !ok {
		return domain.IDToken{}, errors.New("not ours")
	}
	return s.claims, nil
}

// idToken returns what the fake signed under handle, and with which
// algorithm.
func (w *world) idToken(handle string) (domain.IDToken, string) {
	w.t.Helper()
	w.idTokens.mu.Lock()
	defer w.idTokens.mu.Unlock()
	s, ok := w.idTokens.issued[handle]
	require.True(w.t, ok, "an ID token was signed")
	return s.claims, s.alg
}

func oidcReq(scope, nonce string) app.AuthorizeRequest {
	r := codeReq("web")
	r.Scope, r.Nonce = scope, nonce
	return r
}

// session returns the session behind a token.
func (w *world) session(token string) domain.Session {
	w.t.Helper()
	s, err := w.accounts.Session(context.Background(), token)
	require.NoError(w.t, err)
	return s
}

// allowWith has the user of session allow req and returns the code.
func (w *world) allowWith(t *testing.T, session string, req app.AuthorizeRequest) string {
	t.Helper()
	d := w.authz.Decide(context.Background(), req, session, app.Allow)
	require.Equal(t, app.Redirect, d.Outcome, "%v", d.Err)
	require.Nil(t, d.Response.Err)
	return d.Response.Code
}

func TestCodeFlowIssuesAnIDToken(t *testing.T) {
	w := newWorld(t)
	session := w.signIn(t, "u-alice")
	sess := w.session(session)
	w.clock.Advance(90 * time.Second) // signed in a while before authorizing

	code := w.allowWith(t, session, oidcReq("openid profile current_time", "n-0S6_WzA2Mj"))
	resp := w.mustExchange("web", codeTokenReq("web", code))
	require.NotEmpty(t, resp.IDToken)
	claims, alg := w.idToken(resp.IDToken)
	assert.Equal(t, "RS256", alg, "the default algorithm")
	assert.Equal(t, domain.IDToken{
		Issuer: issuer, Subject: "u-alice", Audience: []string{"web"},
		IssuedAt: w.clock.Now(), ExpiresAt: w.clock.Now().Add(time.Minute), // the access token's lifetime
		AuthTime:        sess.CreatedAt,
		Nonce:           "n-0S6_WzA2Mj",
		AccessTokenHash: domain.AccessTokenHash("RS256", resp.AccessToken),
		Methods:         []string{"pwd"},
		SessionID:       sess.ID(),
	}, claims)

	t.Run("no openid, no ID token", func(t *testing.T) {
		code := w.allowWith(t, session, oidcReq("profile current_time", "n"))
		assert.Empty(t, w.mustExchange("web", codeTokenReq("web", code)).IDToken)
	})
	t.Run("no nonce sent, none in the token", func(t *testing.T) {
		code := w.allowWith(t, session, oidcReq("openid", ""))
		claims, _ := w.idToken(w.mustExchange("web", codeTokenReq("web", code)).IDToken)
		assert.Empty(t, claims.Nonce)
	})
	t.Run("the client's registered algorithm", func(t *testing.T) {
		req := app.AuthorizeRequest{ResponseType: "code", ClientID: "web-es", Scope: "openid", State: "s",
			CodeChallenge: challenge(verifier), CodeChallengeMethod: "S256"}
		code := w.allowWith(t, session, req)
		resp, err := w.exchange("web-es", app.TokenRequest{GrantType: "authorization_code", Code: code, CodeVerifier: verifier})
		require.NoError(t, err)
		claims, alg := w.idToken(resp.IDToken)
		assert.Equal(t, "ES256", alg)
		assert.Equal(t, domain.AccessTokenHash("ES256", resp.AccessToken), claims.AccessTokenHash)
	})
	t.Run("an algorithm the server holds no key for is refused at the authorization endpoint", func(t *testing.T) {
		req := app.AuthorizeRequest{ResponseType: "code", ClientID: "web-eddsa", Scope: "openid", State: "s",
			CodeChallenge: challenge(verifier), CodeChallengeMethod: "S256"}
		d := w.authz.Decide(context.Background(), req, session, app.Allow)
		require.Equal(t, app.Redirect, d.Outcome)
		require.NotNil(t, d.Response.Err)
		assert.Equal(t, domain.UnauthorizedClient, d.Response.Err.Code)
	})
}

func TestRefreshIssuesAnIDTokenOfTheSameSignIn(t *testing.T) {
	w := newWorld(t)
	session := w.signIn(t, "u-alice")
	sess := w.session(session)
	code := w.allowWith(t, session, oidcReq("openid email current_time", "nonce-1"))
	first := w.mustExchange("web", codeTokenReq("web", code))
	firstClaims, _ := w.idToken(first.IDToken)

	// The session may end meanwhile: the family keeps its sign-in.
	require.NoError(t, w.accounts.EndSession(context.Background(), session))
	w.clock.Advance(10 * time.Minute)
	second := w.mustExchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
	require.NotEmpty(t, second.IDToken)
	require.NotEqual(t, first.IDToken, second.IDToken, "a new ID token")
	claims, _ := w.idToken(second.IDToken)
	assert.Equal(t, firstClaims.Subject, claims.Subject, "same sub")
	assert.Equal(t, sess.CreatedAt, claims.AuthTime, "same auth_time: the sign-in, not the refresh")
	assert.Equal(t, sess.ID(), claims.SessionID, "same sid")
	assert.Empty(t, claims.Nonce, "no nonce on refresh (Core §12.2)")
	assert.Equal(t, w.clock.Now(), claims.IssuedAt, "iat is the refresh's")
	assert.Equal(t, domain.AccessTokenHash("RS256", second.AccessToken), claims.AccessTokenHash)

	narrowed := w.mustExchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken, Scope: domain.NewScope("current_time")})
	assert.Empty(t, narrowed.IDToken, "a refresh narrowed to leave openid out gets none")
	again := w.mustExchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: narrowed.RefreshToken})
	claims, _ = w.idToken(again.IDToken)
	assert.Equal(t, sess.CreatedAt, claims.AuthTime, "and widening back to the family's scope gets it again, of the same sign-in")
}

func TestRaceOneOpenIDCodeExchangedAt50AnswersAtMostOnce(t *testing.T) {
	w := newWorld(t)
	code := w.allowWith(t, w.signIn(t, "u-alice"), oidcReq("openid", "n"))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []app.TokenResponse
	)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := w.exchange("web", codeTokenReq("web", code)); err == nil {
				mu.Lock()
				winners = append(winners, resp)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// The code was presented 49 times more: replays, which revoke what
	// the first exchange got and may refuse it outright if they come while
	// it holds the code. At most one exchange is answered with tokens.
	require.LessOrEqual(t, len(winners), 1)
	for _, got := range winners {
		assert.NotEmpty(t, got.IDToken)
		assert.False(t, w.alive(got), "the replays took down what the code gave")
	}
}

// decide runs one authorization request with a session token.
func (w *world) decide(req app.AuthorizeRequest, session string) app.Decision {
	return w.authz.Decide(context.Background(), req, session, app.NoAnswer)
}

func errorOf(t *testing.T, d app.Decision) domain.ErrorCode {
	t.Helper()
	require.Equal(t, app.Redirect, d.Outcome, "%v", d.Err)
	require.NotNil(t, d.Response.Err, "an error goes back to the client")
	assert.Equal(t, "xyz", d.Response.State, "with the state")
	assert.Equal(t, issuer, d.Response.Issuer, "and the issuer")
	return d.Response.Err.Code
}

func TestPrompt(t *testing.T) {
	w := newWorld(t)
	req := func(prompt string) app.AuthorizeRequest {
		r := oidcReq("openid profile", "n")
		r.Prompt = prompt
		return r
	}
	session := w.signIn(t, "u-alice")

	t.Run("none, signed out: login_required at the client, no page", func(t *testing.T) {
		assert.Equal(t, domain.LoginRequired, errorOf(t, w.decide(req("none"), "")))
	})
	t.Run("none, signed in, not consented: consent_required", func(t *testing.T) {
		assert.Equal(t, domain.ConsentRequired, errorOf(t, w.decide(req("none"), session)))
	})
	t.Run("none with another value: invalid_request", func(t *testing.T) {
		assert.Equal(t, domain.InvalidRequest, errorOf(t, w.decide(req("none login"), session)))
	})
	w.allowWith(t, session, req(""))
	t.Run("none, signed in and consented: the code, silently", func(t *testing.T) {
		d := w.decide(req("none"), session)
		require.Equal(t, app.Redirect, d.Outcome)
		assert.Nil(t, d.Response.Err)
		assert.NotEmpty(t, d.Response.Code)
	})
	t.Run("consent: asked although consented", func(t *testing.T) {
		d := w.decide(req("consent"), session)
		assert.Equal(t, app.ShowConsent, d.Outcome)
	})
	t.Run("select_account is ignored: one account per browser", func(t *testing.T) {
		assert.Equal(t, app.Redirect, w.decide(req("select_account"), session).Outcome)
	})
	t.Run("login: sign in again, and come back without prompt=login", func(t *testing.T) {
		r := req("login consent")
		r.LoginHint = "alice"
		d := w.decide(r, session)
		require.Equal(t, app.ShowLogin, d.Outcome)
		assert.True(t, d.Reauthenticate, "the login page asks although the browser has a session")
		assert.Equal(t, "consent", d.Auth.Request.Prompt, "the request to come back with keeps the rest")
		assert.Equal(t, "alice", d.LoginHint)

		fresh := w.signIn(t, "u-alice")
		assert.Equal(t, app.ShowLogin, w.decide(r, fresh).Outcome, "the client's own request asks again, whatever the session")
		back := w.decide(d.Auth.Request, fresh)
		require.Equal(t, app.ShowConsent, back.Outcome, "the one to come back with goes on, to the consent prompt=consent asked for")
		back = w.authz.Decide(context.Background(), d.Auth.Request, fresh, app.Allow)
		require.Equal(t, app.Redirect, back.Outcome)
		code := back.Response.Code
		claims, _ := w.idToken(w.mustExchange("web", codeTokenReq("web", code)).IDToken)
		freshSess := w.session(fresh)
		assert.Equal(t, freshSess.ID(), claims.SessionID, "the new session's sign-in")
	})
}

func TestMaxAge(t *testing.T) {
	w := newWorld(t)
	session := w.signIn(t, "u-alice")
	w.allowWith(t, session, oidcReq("openid", "n"))
	withMaxAge := func(maxAge, prompt string) app.AuthorizeRequest {
		r := oidcReq("openid", "n")
		r.MaxAge, r.Prompt = maxAge, prompt
		return r
	}
	w.clock.Advance(60 * time.Second)
	assert.Equal(t, app.Redirect, w.decide(withMaxAge("60", ""), session).Outcome, "signed in 60 s ago meets max_age=60")

	w.clock.Advance(time.Second)
	d := w.decide(withMaxAge("60", ""), session)
	require.Equal(t, app.ShowLogin, d.Outcome, "61 s ago does not")
	assert.True(t, d.Reauthenticate)
	assert.Empty(t, d.Auth.Request.MaxAge, "come back without it, or loop")
	assert.Equal(t, domain.LoginRequired, errorOf(t, w.decide(withMaxAge("60", "none"), session)), "prompt=none: login_required")

	fresh := w.signIn(t, "u-alice")
	assert.Equal(t, app.Redirect, w.decide(withMaxAge("60", ""), fresh).Outcome)
	assert.Equal(t, app.ShowLogin, w.decide(withMaxAge("0", ""), fresh).Outcome, "max_age=0 is prompt=login, even this second")

	for _, bad := range []string{"-1", "1.5", "soon", "+5", "99999999999999999999"} {
		assert.Equal(t, domain.InvalidRequest, errorOf(t, w.decide(withMaxAge(bad, ""), session)), bad)
	}
	assert.Equal(t, app.Redirect, w.decide(withMaxAge("9223372036854775807", ""), fresh).Outcome, "a huge max_age is only long")
}

func TestIDTokenHint(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	require.NoError(t, w.store.SaveUser(ctx, domain.User{ID: "u-bob", Username: "bob"}))
	alice, bob := w.signIn(t, "u-alice"), w.signIn(t, "u-bob")
	hintFor := func(session string) string {
		code := w.allowWith(t, session, oidcReq("openid", "n"))
		return w.mustExchange("web", codeTokenReq("web", code)).IDToken
	}
	aliceHint, bobHint := hintFor(alice), hintFor(bob)
	withHint := func(hint, prompt string) app.AuthorizeRequest {
		r := oidcReq("openid", "n")
		r.IDTokenHint, r.Prompt = hint, prompt
		return r
	}

	w.clock.Advance(24 * time.Hour)
	alice = w.signIn(t, "u-alice")
	assert.Equal(t, app.Redirect, w.decide(withHint(aliceHint, "none"), alice).Outcome, "an expired hint of the signed-in user is fine")
	d := w.decide(withHint(bobHint, ""), alice)
	require.Equal(t, app.ShowLogin, d.Outcome, "a hint naming someone else: sign in again")
	assert.True(t, d.Reauthenticate)
	assert.Empty(t, d.Auth.Request.IDTokenHint)
	assert.Equal(t, domain.LoginRequired, errorOf(t, w.decide(withHint(bobHint, "none"), alice)))
	assert.Equal(t, domain.InvalidRequest, errorOf(t, w.decide(withHint("forged.jwt.here", ""), alice)), "not ours")

	esReq := app.AuthorizeRequest{ResponseType: "code", ClientID: "web-es", Scope: "openid", State: "xyz",
		CodeChallenge: challenge(verifier), CodeChallengeMethod: "S256"}
	code := w.allowWith(t, alice, esReq)
	resp, err := w.exchange("web-es", app.TokenRequest{GrantType: "authorization_code", Code: code, CodeVerifier: verifier})
	require.NoError(t, err)
	assert.Equal(t, domain.InvalidRequest, errorOf(t, w.decide(withHint(resp.IDToken, ""), alice)), "issued to another client")

	w.idTokens.down = fmt.Errorf("keys: %w", domain.ErrUnavailable)
	d = w.decide(withHint(aliceHint, ""), alice)
	assert.Equal(t, app.ShowError, d.Outcome, "keys that cannot be read: a page, not a verdict on the hint")
	assert.ErrorIs(t, d.Err, domain.ErrUnavailable)
}

func TestOpenIDParametersRefused(t *testing.T) {
	w := newWorld(t)
	session := w.signIn(t, "u-alice")
	cases := map[string]struct {
		set  func(r *app.AuthorizeRequest)
		want domain.ErrorCode
	}{
		"request object":          {func(r *app.AuthorizeRequest) { r.Request = "eyJ.eyJ.sig" }, domain.RequestNotSupported},
		"request_uri":             {func(r *app.AuthorizeRequest) { r.RequestURI = "https://app.example/req" }, domain.RequestURINotSupported},
		"registration":            {func(r *app.AuthorizeRequest) { r.Registration = "{}" }, domain.RegistrationNotSupported},
		"claims":                  {func(r *app.AuthorizeRequest) { r.Claims = `{"userinfo":{"email":null}}` }, domain.InvalidRequest},
		"a nonce too long":        {func(r *app.AuthorizeRequest) { r.Nonce = strings.Repeat("n", app.MaxNonceBytes+1) }, domain.InvalidRequest},
		"a hint too long":         {func(r *app.AuthorizeRequest) { r.IDTokenHint = strings.Repeat("h", app.MaxIDTokenHintBytes+1) }, domain.InvalidRequest},
		"a login_hint too long":   {func(r *app.AuthorizeRequest) { r.LoginHint = strings.Repeat("a", app.MaxLoginHintBytes+1) }, domain.InvalidRequest},
		"ui_locales too long":     {func(r *app.AuthorizeRequest) { r.UILocales = strings.Repeat("en ", 100) }, domain.InvalidRequest},
		"form_post":               {func(r *app.AuthorizeRequest) { r.ResponseMode = "form_post" }, domain.InvalidRequest},
		"a code in the fragment":  {func(r *app.AuthorizeRequest) { r.ResponseMode = "fragment" }, domain.InvalidRequest},
		"openid not allowed":      {func(r *app.AuthorizeRequest) { r.ClientID, r.RedirectURI = "spa", "" }, domain.InvalidScope},
		"nonce repeated":          {func(r *app.AuthorizeRequest) { r.Repeated = "nonce" }, domain.InvalidRequest},
		"a code in the query, ok": {func(r *app.AuthorizeRequest) { r.ResponseMode = "query"; r.UILocales = "fr-CA en" }, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := oidcReq("openid", "n")
			tc.set(&r)
			d := w.authz.Decide(context.Background(), r, session, app.Allow)
			require.Equal(t, app.Redirect, d.Outcome, "%v", d.Err)
			if tc.want == "" {
				assert.Nil(t, d.Response.Err)
				return
			}
			require.NotNil(t, d.Response.Err)
			assert.Equal(t, tc.want, d.Response.Err.Code)
		})
	}
}

func TestUserInfo(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ui := app.NewUserInfoEndpoint(w.keys, w.store, w.store, w.clock.Now)
	session := w.signIn(t, "u-alice")
	tokenFor := func(scope string) app.TokenResponse {
		code := w.allowWith(t, session, oidcReq(scope, "n"))
		return w.mustExchange("web", codeTokenReq("web", code))
	}
	alice := w.alice()

	all, err := ui.UserInfo(ctx, tokenFor("openid profile email").AccessToken)
	require.NoError(t, err)
	assert.Equal(t, domain.UserInfo{Subject: "u-alice", Profile: true, Name: "Alice Example", PreferredUsername: "alice",
		UpdatedAt: alice.UpdatedAt, Email: true, EmailAddress: "alice@example.com", EmailVerified: true}, all)

	only, err := ui.UserInfo(ctx, tokenFor("openid").AccessToken)
	require.NoError(t, err)
	assert.Equal(t, domain.UserInfo{Subject: "u-alice"}, only, "openid alone: who, nothing more")

	_, err = ui.UserInfo(ctx, tokenFor("profile email current_time").AccessToken)
	assert.Equal(t, domain.InsufficientScope, domain.CodeOf(err), "a token without openid")
	svc := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})
	_, err = ui.UserInfo(ctx, svc.AccessToken)
	assert.Equal(t, domain.InsufficientScope, domain.CodeOf(err), "a client's own token")

	for name, token := range map[string]string{"empty": "", "junk": "not-a-jwt", "truncated": tokenFor("openid").AccessToken[:40]} {
		_, err := ui.UserInfo(ctx, token)
		assert.Equal(t, domain.InvalidToken, domain.CodeOf(err), name)
	}

	revoked := tokenFor("openid profile")
	require.NoError(t, w.revoker.Revoke(ctx, w.client("web"), revoked.AccessToken, ""))
	_, err = ui.UserInfo(ctx, revoked.AccessToken)
	assert.Equal(t, domain.InvalidToken, domain.CodeOf(err), "revoked")

	expiring := tokenFor("openid profile")
	w.clock.Advance(time.Minute)
	_, err = ui.UserInfo(ctx, expiring.AccessToken)
	assert.Equal(t, domain.InvalidToken, domain.CodeOf(err), "expired")

	w.clock.Advance(-time.Minute)
	require.NoError(t, w.store.DeleteUser(ctx, "u-alice"))
	_, err = ui.UserInfo(ctx, all.Subject) // a sub is no token either
	assert.Equal(t, domain.InvalidToken, domain.CodeOf(err))
}

func TestEndSessionValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	logouts := app.NewLogouts(w.store, w.idTokens)
	code := w.allowWith(t, w.signIn(t, "u-alice"), oidcReq("openid", "n"))
	hint := w.mustExchange("web", codeTokenReq("web", code)).IDToken
	w.clock.Advance(48 * time.Hour) // expired: still a good hint (RP-Initiated Logout §2)

	ok := []struct {
		name         string
		req          app.EndSessionRequest
		wantClient   string
		wantRedirect string
	}{
		{"nothing: sign out here", app.EndSessionRequest{}, "", ""},
		{"hint and URI", app.EndSessionRequest{IDTokenHint: hint, PostLogoutRedirectURI: "https://app.example/bye", State: "s"}, "web", "https://app.example/bye"},
		{"client_id and URI", app.EndSessionRequest{ClientID: "web", PostLogoutRedirectURI: "https://app.example/bye"}, "web", "https://app.example/bye"},
		{"hint and its client", app.EndSessionRequest{IDTokenHint: hint, ClientID: "web"}, "web", ""},
		{"hints accepted, not acted on", app.EndSessionRequest{LogoutHint: "alice", UILocales: "de"}, "", ""},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			es, err := logouts.ValidateEndSession(ctx, tc.req)
			require.NoError(t, err)
			assert.Equal(t, tc.wantClient, es.Client.ID)
			assert.Equal(t, tc.wantRedirect, es.Redirect)
		})
	}
	bad := map[string]app.EndSessionRequest{
		"a URI without a client":      {PostLogoutRedirectURI: "https://app.example/bye"},
		"an unregistered URI":         {ClientID: "web", PostLogoutRedirectURI: "https://evil.example/"},
		"the redirect URI is not one": {ClientID: "web", PostLogoutRedirectURI: "https://app.example/cb"},
		"a forged hint":               {IDTokenHint: "forged", PostLogoutRedirectURI: "https://app.example/bye"},
		"client_id not the audience":  {IDTokenHint: hint, ClientID: "web-es"},
		"an unknown client":           {ClientID: "nobody"},
		"repeated":                    {Repeated: "state"},
		"a state too long":            {ClientID: "web", State: strings.Repeat("s", app.MaxLogoutParamBytes+1)},
		"a hint too long":             {IDTokenHint: strings.Repeat("h", app.MaxIDTokenHintBytes+1)},
	}
	for name, req := range bad {
		t.Run(name, func(t *testing.T) {
			es, err := logouts.ValidateEndSession(ctx, req)
			assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err), "%v", err)
			assert.Empty(t, es.Redirect, "never a redirect")
		})
	}
	w.idTokens.down = fmt.Errorf("keys: %w", domain.ErrUnavailable)
	_, err := logouts.ValidateEndSession(ctx, app.EndSessionRequest{IDTokenHint: hint})
	assert.ErrorIs(t, err, domain.ErrUnavailable)
}

func TestRaceOneOpenIDRefreshTokenUsedAt50OnceGetsOneIDToken(t *testing.T) {
	w := newWorld(t)
	code := w.allowWith(t, w.signIn(t, "u-alice"), oidcReq("openid profile", "n"))
	first := w.mustExchange("web", codeTokenReq("web", code))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []app.TokenResponse
	)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := w.exchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken}); err == nil {
				mu.Lock()
				winners = append(winners, resp)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, winners, 1, "one rotation wins; the others are reuse")
	claims, _ := w.idToken(winners[0].IDToken)
	assert.Equal(t, "u-alice", claims.Subject)
}

func TestConsentNamesWhatIdentityScopesShare(t *testing.T) {
	w := newWorld(t)
	d := w.decide(oidcReq("openid profile email", "n"), w.signIn(t, "u-alice"))
	require.Equal(t, app.ShowConsent, d.Outcome)
	assert.Equal(t, []app.ConsentScope{
		{Name: "email", Description: "See your email address, and whether it is verified", Shares: "alice@example.com, verified"},
		{Name: "openid", Description: "Know who you are: your account's id on this server"},
		{Name: "profile", Description: "See your name and username", Shares: "Alice Example (alice)"},
	}, d.Consent.Scopes, "in words, with what each would share, though the scope list describes none of them")
}
