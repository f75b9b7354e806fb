package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func codeReq(client string) app.AuthorizeRequest {
	return app.AuthorizeRequest{ResponseType: "code", ClientID: client, RedirectURI: "https://app.example/cb",
		State: "xyz", CodeChallenge: challenge(verifier), CodeChallengeMethod: "S256"}
}

func TestPKCEChallengeOfRFC7636AppendixB(t *testing.T) {
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", challenge(verifier))
}

func TestAuthorizeValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mutate := func(client string, f func(r *app.AuthorizeRequest)) app.AuthorizeRequest {
		r := codeReq(client)
		f(&r)
		return r
	}
	cases := []struct {
		name         string
		req          app.AuthorizeRequest
		wantCode     domain.ErrorCode // "" means valid
		wantRedirect string           // "" means: an error page, never a redirect
	}{
		{"valid", codeReq("web"), "", "https://app.example/cb"},
		{"registered URI with a query", mutate("web", func(r *app.AuthorizeRequest) { r.RedirectURI = "https://app.example/other?keep=1" }), "", "https://app.example/other?keep=1"},
		{"single registered URI may be left out", mutate("spa", func(r *app.AuthorizeRequest) { r.RedirectURI = "" }), "", "https://spa.example/cb"},

		{"unknown client", mutate("nobody", func(*app.AuthorizeRequest) {}), domain.InvalidRequest, ""},
		{"missing client", mutate("", func(*app.AuthorizeRequest) {}), domain.InvalidRequest, ""},
		{"unregistered redirect", mutate("web", func(r *app.AuthorizeRequest) { r.RedirectURI = "https://evil.example/cb" }), domain.InvalidRequest, ""},
		{"prefix of a registered redirect", mutate("web", func(r *app.AuthorizeRequest) { r.RedirectURI = "https://app.example/cb/../../evil" }), domain.InvalidRequest, ""},
		{"registered redirect plus a query", mutate("web", func(r *app.AuthorizeRequest) { r.RedirectURI = "https://app.example/cb?next=https://evil" }), domain.InvalidRequest, ""},
		{"left out with two registered", mutate("web", func(r *app.AuthorizeRequest) { r.RedirectURI = "" }), domain.InvalidRequest, ""},

		{"missing response_type", mutate("web", func(r *app.AuthorizeRequest) { r.ResponseType = "" }), domain.InvalidRequest, "https://app.example/cb"},
		{"unknown response_type", mutate("web", func(r *app.AuthorizeRequest) { r.ResponseType = "id_token" }), domain.UnsupportedResponseType, "https://app.example/cb"},
		{"implicit not allowed for client", mutate("web", func(r *app.AuthorizeRequest) { r.ResponseType = "token" }), domain.UnauthorizedClient, "https://app.example/cb"},
		{"code not allowed for client", mutate("legacy", func(r *app.AuthorizeRequest) { r.RedirectURI = "" }), domain.UnauthorizedClient, "https://legacy.example/cb"},
		{"scope not allowed", mutate("web", func(r *app.AuthorizeRequest) { r.Scope = "admin" }), domain.InvalidScope, "https://app.example/cb"},
		{"malformed scope", mutate("web", func(r *app.AuthorizeRequest) { r.Scope = "a  b" }), domain.InvalidScope, "https://app.example/cb"},
		{"PKCE missing", mutate("web", func(r *app.AuthorizeRequest) { r.CodeChallenge, r.CodeChallengeMethod = "", "" }), domain.InvalidRequest, "https://app.example/cb"},
		{"PKCE missing, public client", mutate("spa", func(r *app.AuthorizeRequest) { r.RedirectURI, r.CodeChallenge, r.CodeChallengeMethod = "", "", "" }), domain.InvalidRequest, "https://spa.example/cb"},
		{"PKCE plain refused", mutate("web", func(r *app.AuthorizeRequest) { r.CodeChallenge, r.CodeChallengeMethod = verifier, "plain" }), domain.InvalidRequest, "https://app.example/cb"},
		{"PKCE method absent means plain", mutate("web", func(r *app.AuthorizeRequest) { r.CodeChallengeMethod = "" }), domain.InvalidRequest, "https://app.example/cb"},
		{"PKCE unknown method", mutate("web", func(r *app.AuthorizeRequest) { r.CodeChallengeMethod = "S512" }), domain.InvalidRequest, "https://app.example/cb"},
		{"PKCE challenge too short", mutate("web", func(r *app.AuthorizeRequest) { r.CodeChallenge = "abc" }), domain.InvalidRequest, "https://app.example/cb"},
		{"PKCE plain for a client allowed it", mutate("plain-ok", func(r *app.AuthorizeRequest) {
			r.RedirectURI, r.CodeChallenge, r.CodeChallengeMethod = "", verifier, "plain"
		}), "", "https://p.example/cb"},
		{"no PKCE for a client that opted out", mutate("no-pkce", func(r *app.AuthorizeRequest) { r.RedirectURI, r.CodeChallenge, r.CodeChallengeMethod = "", "", "" }), "", "https://n.example/cb"},
		{"implicit for a client allowed it", app.AuthorizeRequest{ResponseType: "token", ClientID: "legacy"}, "", "https://legacy.example/cb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := w.authz.Validate(ctx, tc.req)
			assert.Equal(t, tc.wantRedirect, auth.Redirect)
			if tc.wantCode == "" {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tc.wantCode, domain.CodeOf(err), "%v", err)
		})
	}
}

// signIn opens a session for the user and returns its token.
func (w *world) signIn(t *testing.T, userID string) string {
	t.Helper()
	ctx := context.Background()
	u, err := w.store.FindUser(ctx, userID)
	require.NoError(t, err)
	token, _, err := w.accounts.StartSession(ctx, u, app.SessionStart{Door: domain.DoorPage})
	require.NoError(t, err)
	return token
}

// approve has alice allow req on the consent page and returns the code.
func (w *world) approve(t *testing.T, req app.AuthorizeRequest) string {
	t.Helper()
	d := w.authz.Decide(context.Background(), req, w.signIn(t, "u-alice"), app.Allow)
	require.Equal(t, app.Redirect, d.Outcome, "%v", d.Err)
	require.Nil(t, d.Response.Err)
	require.NotEmpty(t, d.Response.Code)
	return d.Response.Code
}

func TestConsentIsRemembered(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	require.NoError(t, w.store.SaveUser(ctx, domain.User{ID: "u-bob", Username: "bob"}))
	require.NoError(t, w.store.SaveScope(ctx, domain.ScopeInfo{Name: "epoch_time", Description: "Read the epoch time"}))
	alice, bob := w.signIn(t, "u-alice"), w.signIn(t, "u-bob")
	narrow := codeReq("web")
	narrow.Scope = "epoch_time"

	d := w.authz.Decide(ctx, narrow, alice, app.NoAnswer)
	require.Equal(t, app.ShowConsent, d.Outcome, "first time: %v", d.Err)
	assert.Equal(t, app.ConsentPrompt{ClientName: "web", Username: "alice",
		Scopes: []app.ConsentScope{{Name: "epoch_time", Description: "Read the epoch time"}}}, d.Consent)
	assert.Equal(t, "https://app.example/cb", d.Auth.Redirect, "the form's answer goes there")
	assert.Equal(t, "u-alice", d.UserID)
	w.approve(t, narrow)

	d = w.authz.Decide(ctx, narrow, alice, app.NoAnswer)
	require.Equal(t, app.Redirect, d.Outcome, "same client and scope: remembered")
	assert.NotEmpty(t, d.Response.Code)

	d = w.authz.Decide(ctx, codeReq("web"), alice, app.NoAnswer)
	require.Equal(t, app.ShowConsent, d.Outcome, "more scope: ask again")
	assert.Equal(t, []app.ConsentScope{{Name: "current_time", Description: "current_time"}, {Name: "epoch_time", Description: "Read the epoch time"}},
		d.Consent.Scopes, "a scope without a description shows its name")

	d = w.authz.Decide(ctx, narrow, bob, app.NoAnswer)
	assert.Equal(t, app.ShowConsent, d.Outcome, "per user")
	assert.Equal(t, "bob", d.Consent.Username)
}

// sessionsFunc is a SessionChecker of a function, counting its calls.
type sessionsFunc struct {
	fn    func(token string) (domain.Session, error)
	calls int
}

func (s *sessionsFunc) Session(_ context.Context, token string) (domain.Session, error) {
	s.calls++
	return s.fn(token)
}

func TestDecide(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	valid := codeReq("web")
	withParam := func(f func(r *app.AuthorizeRequest)) app.AuthorizeRequest {
		r := codeReq("web")
		f(&r)
		return r
	}
	down := fmt.Errorf("session store: %w", domain.ErrUnavailable)
	alice := func(string) (domain.Session, error) { return domain.Session{UserID: "u-alice"}, nil }
	cases := []struct {
		name     string
		req      app.AuthorizeRequest
		sessions func(string) (domain.Session, error)
		answer   app.Answer
		want     app.Outcome
		wantErr  domain.ErrorCode // the error shown or sent, if any
		looked   bool             // whether the session was looked up
	}{
		{"unknown client: a page, no session look-up", withParam(func(r *app.AuthorizeRequest) { r.ClientID = "nobody" }), alice, app.NoAnswer, app.ShowError, domain.InvalidRequest, false},
		{"repeated client_id: a page", withParam(func(r *app.AuthorizeRequest) { r.Repeated = "client_id" }), alice, app.NoAnswer, app.ShowError, domain.InvalidRequest, false},
		{"repeated redirect_uri: a page", withParam(func(r *app.AuthorizeRequest) { r.Repeated = "redirect_uri" }), alice, app.NoAnswer, app.ShowError, domain.InvalidRequest, false},
		{"repeated scope: to the client", withParam(func(r *app.AuthorizeRequest) { r.Repeated = "scope" }), alice, app.NoAnswer, app.Redirect, domain.InvalidRequest, false},
		{"bad scope: to the client, before any session", withParam(func(r *app.AuthorizeRequest) { r.Scope = "admin" }), alice, app.NoAnswer, app.Redirect, domain.InvalidScope, false},
		{"nobody signed in: login", valid, func(string) (domain.Session, error) { return domain.Session{}, app.ErrNoSession }, app.NoAnswer, app.ShowLogin, "", true},
		{"nobody signed in, even with an answer: login", valid, func(string) (domain.Session, error) { return domain.Session{}, app.ErrNoSession }, app.Allow, app.ShowLogin, "", true},
		{"session store down: a page", valid, func(string) (domain.Session, error) { return domain.Session{}, down }, app.NoAnswer, app.ShowError, "", true},
		{"denied: access_denied to the client", valid, alice, app.Deny, app.Redirect, domain.AccessDenied, true},
		{"not asked yet: consent", valid, alice, app.NoAnswer, app.ShowConsent, "", true},
		{"allowed: a code", valid, alice, app.Allow, app.Redirect, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sessions := &sessionsFunc{fn: tc.sessions}
			authz := app.NewAuthorizer(app.AuthorizerDeps{
				Clients: w.store, Scopes: w.store, Users: w.store, Sessions: sessions, Consents: w.store, Codes: w.store,
				Minter: w.minter, Policy: app.AuthorizationPolicy{Issuer: issuer, CodeTTL: time.Minute}, Now: w.clock.Now,
			})
			d := authz.Decide(ctx, tc.req, "token", tc.answer)
			require.Equal(t, tc.want, d.Outcome, "%v", d.Err)
			assert.Equal(t, tc.looked, sessions.calls == 1)
			switch d.Outcome {
			case app.ShowError:
				require.Error(t, d.Err)
				if tc.wantErr != "" {
					assert.Equal(t, tc.wantErr, domain.CodeOf(d.Err))
				} else {
					assert.ErrorIs(t, d.Err, domain.ErrUnavailable)
				}
			case app.Redirect:
				r := d.Response
				assert.Equal(t, "https://app.example/cb", r.RedirectURI)
				assert.Equal(t, "xyz", r.State, "state goes back (RFC 6749 §4.1.2)")
				assert.Equal(t, issuer, r.Issuer, "RFC 9207")
				assert.False(t, r.Fragment)
				if tc.wantErr != "" {
					require.NotNil(t, r.Err)
					assert.Equal(t, tc.wantErr, r.Err.Code)
					assert.Empty(t, r.Code)
				} else {
					assert.Nil(t, r.Err)
					assert.NotEmpty(t, r.Code)
				}
			case app.ShowLogin:
				assert.Equal(t, tc.req, d.Auth.Request, "the request to come back with")
			case app.ShowConsent:
				assert.Equal(t, "alice", d.Consent.Username)
			}
		})
	}
}

func TestCodeGrant(t *testing.T) {
	w := newWorld(t)
	tokenReq := func(code string) app.TokenRequest {
		return app.TokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: "https://app.example/cb", CodeVerifier: verifier}
	}

	code := w.approve(t, codeReq("web"))
	resp := w.mustExchange("web", tokenReq(code))
	assert.NotEmpty(t, resp.RefreshToken, "the client may refresh")
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), resp.Scope)
	assert.Equal(t, "u-alice", resp.UserID)
	require.True(t, w.introspect("rs", resp.AccessToken).Active)

	cases := []struct {
		name   string
		client string
		req    func(code string) app.TokenRequest
		want   domain.ErrorCode
	}{
		{"missing code", "web", func(string) app.TokenRequest { return app.TokenRequest{GrantType: "authorization_code"} }, domain.InvalidRequest},
		{"unknown code", "web", func(string) app.TokenRequest { return tokenReq("forged") }, domain.InvalidGrant},
		{"another client", "spa", tokenReq, domain.InvalidGrant},
		{"wrong verifier", "web", func(c string) app.TokenRequest {
			r := tokenReq(c)
			r.CodeVerifier = strings.Repeat("a", 43)
			return r
		}, domain.InvalidGrant},
		{"missing verifier", "web", func(c string) app.TokenRequest { r := tokenReq(c); r.CodeVerifier = ""; return r }, domain.InvalidGrant},
		{"redirect_uri differs", "web", func(c string) app.TokenRequest {
			r := tokenReq(c)
			r.RedirectURI = "https://app.example/other?keep=1"
			return r
		}, domain.InvalidGrant},
		{"redirect_uri left out", "web", func(c string) app.TokenRequest { r := tokenReq(c); r.RedirectURI = ""; return r }, domain.InvalidGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := w.approve(t, codeReq("web"))
			_, err := w.exchange(tc.client, tc.req(c))
			assert.Equal(t, tc.want, domain.CodeOf(err), "%v", err)
		})
	}

	t.Run("expired", func(t *testing.T) {
		c := w.approve(t, codeReq("web"))
		w.clock.Advance(time.Minute)
		_, err := w.exchange("web", tokenReq(c))
		assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	})
	t.Run("verifier for a code issued without a challenge (PKCE downgrade)", func(t *testing.T) {
		req := app.AuthorizeRequest{ResponseType: "code", ClientID: "no-pkce"}
		c := w.approve(t, req)
		_, err := w.exchange("no-pkce", app.TokenRequest{GrantType: "authorization_code", Code: c, CodeVerifier: verifier})
		assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
	})
	t.Run("plain PKCE for the client allowed it", func(t *testing.T) {
		req := app.AuthorizeRequest{ResponseType: "code", ClientID: "plain-ok", CodeChallenge: verifier, CodeChallengeMethod: "plain"}
		c := w.approve(t, req)
		_, err := w.exchange("plain-ok", app.TokenRequest{GrantType: "authorization_code", Code: c, CodeVerifier: verifier})
		assert.NoError(t, err)
	})
}

func TestCodeReplayRevokesEverythingIssuedFromIt(t *testing.T) {
	w := newWorld(t)
	code := w.approve(t, codeReq("web"))
	req := app.TokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: "https://app.example/cb", CodeVerifier: verifier}
	first := w.mustExchange("web", req)
	refreshed := w.mustExchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})

	_, err := w.exchange("web", req)
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "a code is single-use")

	assert.False(t, w.introspect("rs", first.AccessToken).Active)
	assert.False(t, w.introspect("rs", refreshed.AccessToken).Active, "even tokens refreshed from it")
	_, err = w.exchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: refreshed.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
}

func TestImplicit(t *testing.T) {
	w := newWorld(t)
	req := app.AuthorizeRequest{ResponseType: "token", ClientID: "legacy", Scope: "epoch_time", State: "s1"}
	d := w.authz.Decide(context.Background(), req, w.signIn(t, "u-alice"), app.Allow)
	require.Equal(t, app.Redirect, d.Outcome, "%v", d.Err)
	r := d.Response
	assert.True(t, r.Fragment, "RFC 6749 §4.2.2: in the fragment")
	assert.Equal(t, "https://legacy.example/cb", r.RedirectURI)
	assert.Equal(t, "s1", r.State)
	assert.Empty(t, r.Code)
	require.NotNil(t, r.Token)
	assert.Equal(t, "Bearer", r.Token.TokenType)
	assert.Equal(t, domain.NewScope("epoch_time"), r.Token.Scope)
	assert.Empty(t, r.Token.RefreshToken, "RFC 6749 §4.2.2")
	assert.True(t, w.introspect("rs", r.Token.AccessToken).Active)

	d = w.authz.Decide(context.Background(), req, w.signIn(t, "u-alice"), app.Deny)
	require.Equal(t, app.Redirect, d.Outcome)
	assert.True(t, d.Response.Fragment, "errors of the implicit grant travel in the fragment too (§4.2.2.1)")
	require.NotNil(t, d.Response.Err)
	assert.Equal(t, domain.AccessDenied, d.Response.Err.Code)
	assert.Nil(t, d.Response.Token)
}

func TestLoginSessionsAndSignup(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	login := func(user, password, src, device string) (app.LoginResult, error) {
		return w.accounts.Login(ctx, app.LoginAttempt{Username: user, Password: password, Source: src, Device: device})
	}
	res, err := login("alice", "alice-password", "10.0.0.1", "")
	require.NoError(t, err)
	u := res.User
	assert.NotEmpty(t, res.Device, "a known-device token for this browser")
	token, _, err := w.accounts.StartSession(ctx, u, app.SessionStart{Door: domain.DoorPage})
	require.NoError(t, err)
	s, err := w.accounts.Session(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, "u-alice", s.UserID)
	_, err = w.accounts.Session(ctx, token+"x")
	assert.ErrorIs(t, err, app.ErrNoSession)
	require.NoError(t, w.accounts.EndSession(ctx, token))
	_, err = w.accounts.Session(ctx, token)
	assert.ErrorIs(t, err, app.ErrNoSession)

	token, _, err = w.accounts.StartSession(ctx, u, app.SessionStart{Door: domain.DoorPage})
	require.NoError(t, err)
	w.clock.Advance(time.Hour)
	_, err = w.accounts.Session(ctx, token)
	assert.ErrorIs(t, err, app.ErrNoSession, "sessions expire")

	_, err = login("alice", "nope", "10.0.0.1", "")
	assert.ErrorContains(t, err, "wrong username or password")

	// Per source: one address guessing across accounts is slowed (3 free).
	for _, user := range []string{"x1", "x2"} {
		_, err := login(user, "guess", "10.0.0.1", "")
		require.Error(t, err)
	}
	_, err = login("alice", "alice-password", "10.0.0.1", "")
	assert.ErrorIs(t, err, domain.ErrThrottled)
	assert.ErrorContains(t, err, "too many failed attempts")
	_, err = login("alice", "alice-password", "10.0.0.2", "")
	assert.NoError(t, err, "another address is not slowed")
	again, err := login("ALICE", "alice-password", "10.0.0.1", res.Device)
	require.NoError(t, err, "nor is the browser alice signed in on before, whatever its address")
	assert.Equal(t, "u-alice", again.User.ID, "usernames are case-mapped")
	_, err = login("bob", "alice-password", "10.0.0.1", res.Device)
	assert.ErrorIs(t, err, domain.ErrThrottled, "the device token is alice's only")

	cases := map[string]struct{ user, pass, want string }{
		"short password":   {"bob", "short", "at least 8"},
		"long password":    {"bob", strings.Repeat("p", 65), "at most 64"},
		"password = name":  {"bobbobbob", "bobbobbob", "not be the username"},
		"bad username":     {"b b", "long enough pw", "username"},
		"username taken":   {"alice", "long enough pw", "taken"},
		"too short a name": {"bo", "long enough pw", "username"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := w.accounts.Signup(ctx, tc.user, tc.pass, app.Profile{})
			assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
			assert.ErrorContains(t, err, tc.want)
		})
	}
	bob, err := w.accounts.Signup(ctx, "bob", "correct horse battery", app.Profile{})
	require.NoError(t, err)
	got, err := login("Bob", "correct horse battery", "10.0.0.9", "")
	require.NoError(t, err)
	assert.Equal(t, bob.ID, got.User.ID)
	assert.Equal(t, "bob", bob.Username)
	_, err = w.accounts.Signup(ctx, "BOB", "another long password", app.Profile{})
	assert.ErrorContains(t, err, "taken", "Bob and bob are one name")
}

func TestRevokingAGrant(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	code := w.approve(t, codeReq("web"))
	resp := w.mustExchange("web", app.TokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: "https://app.example/cb", CodeVerifier: verifier})
	other := w.mustExchange("pw", passwordReq())

	list, err := w.consents.List(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "web", list[0].Client.ID)

	require.NoError(t, w.consents.Revoke(ctx, "u-alice", "web"))
	assert.False(t, w.introspect("rs", resp.AccessToken).Active, "the grant's access tokens die at once")
	_, err = w.exchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: resp.RefreshToken})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "and its refresh tokens")
	assert.True(t, w.introspect("rs", other.AccessToken).Active, "another client's tokens stay")
	list, err = w.consents.List(ctx, "u-alice")
	require.NoError(t, err)
	assert.Empty(t, list)

	d := w.authz.Decide(ctx, codeReq("web"), w.signIn(t, "u-alice"), app.NoAnswer)
	assert.Equal(t, app.ShowConsent, d.Outcome, "consent must be given again")

	w.clock.Advance(2 * time.Second) // a new grant, later than the revocation
	again := w.approve(t, codeReq("web"))
	fresh := w.mustExchange("web", app.TokenRequest{GrantType: "authorization_code", Code: again, RedirectURI: "https://app.example/cb", CodeVerifier: verifier})
	assert.True(t, w.introspect("rs", fresh.AccessToken).Active, "tokens of the new consent are not covered by the old revocation")
}

// marks counts what reaches the revocation and refresh stores, and can
// fail the refresh store's revocation.
type marks struct {
	app.RevocationStore
	app.UserClientRevoker
	revokes, userClient int
	fail                error
}

func (m *marks) Revoke(ctx context.Context, id string, at, until time.Time) error {
	m.revokes++
	return m.RevocationStore.Revoke(ctx, id, at, until)
}

func (m *marks) RevokeUserClientTokens(ctx context.Context, userID, clientID string, at time.Time) error {
	m.userClient++
	if m.fail != nil {
		return m.fail
	}
	return m.UserClientRevoker.RevokeUserClientTokens(ctx, userID, clientID, at)
}

func TestRevokeOnlyAGrantThatExists(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	m := &marks{RevocationStore: w.store, UserClientRevoker: w.store}
	grants := app.NewConsents(w.store, w.store, m, m, w.store, time.Hour, w.clock.Now)
	w.approve(t, codeReq("web"))
	audited := func() int {
		events, err := w.store.RecentAudit(ctx, 1000)
		require.NoError(t, err)
		n := 0
		for _, e := range events {
			if e.Type == domain.AuditGrantRevoked {
				n++
			}
		}
		return n
	}

	for name, id := range map[string]string{
		"a client never let in": "pw",
		"no such client":        "made-up-" + strings.Repeat("x", 100),
		"another user's grant":  "spa",
	} {
		t.Run(name, func(t *testing.T) {
			err := grants.Revoke(ctx, "u-alice", id)
			assert.ErrorIs(t, err, app.ErrNoConsent)
			assert.Zero(t, m.revokes+m.userClient, "no mark written")
			assert.Zero(t, audited(), "no audit event")
		})
	}
	require.NoError(t, w.store.SaveConsent(ctx, domain.Consent{UserID: "u-bob", ClientID: "spa", Scope: domain.NewScope("current_time")}))
	assert.ErrorIs(t, grants.Revoke(ctx, "u-alice", "spa"), app.ErrNoConsent, "bob's grant is not alice's to revoke")

	for name, id := range map[string]string{"empty": "", "too long": strings.Repeat("a", app.MaxClientIDLength+1), "50 KB": strings.Repeat("a", 50<<10)} {
		t.Run(name, func(t *testing.T) {
			err := grants.Revoke(ctx, "u-alice", id)
			assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
			assert.Zero(t, m.revokes+m.userClient)
		})
	}

	require.NoError(t, grants.Revoke(ctx, "u-alice", "web"))
	assert.Equal(t, 1, m.revokes, "the grant that exists is revoked")
	assert.Equal(t, 1, audited())
	assert.ErrorIs(t, grants.Revoke(ctx, "u-alice", "web"), app.ErrNoConsent, "and only once")
	assert.Equal(t, 1, m.revokes)
	list, err := grants.List(ctx, "u-bob")
	require.NoError(t, err)
	assert.Len(t, list, 1, "bob's grant stays")
}

// TestRevokeThatFailsKeepsTheGrantListed: when the tokens cannot be
// revoked (a backend is down), the consent is put back, so the account
// page still shows the grant and the user can try again.
func TestRevokeThatFailsKeepsTheGrantListed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	m := &marks{RevocationStore: w.store, UserClientRevoker: w.store, fail: domain.ErrUnavailable}
	grants := app.NewConsents(w.store, w.store, m, m, w.store, time.Hour, w.clock.Now)
	code := w.approve(t, codeReq("web"))
	resp := w.mustExchange("web", app.TokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: "https://app.example/cb", CodeVerifier: verifier})

	assert.ErrorIs(t, grants.Revoke(ctx, "u-alice", "web"), domain.ErrUnavailable)
	list, err := grants.List(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, list, 1, "still listed")

	m.fail = nil
	require.NoError(t, grants.Revoke(ctx, "u-alice", "web"), "the retry revokes it")
	assert.False(t, w.introspect("rs", resp.AccessToken).Active)
}

func TestEndAllSessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	alice := w.alice()
	first, _, err := w.accounts.StartSession(ctx, alice, app.SessionStart{Door: domain.DoorPage})
	require.NoError(t, err)
	w.clock.Advance(time.Second)
	second, _, err := w.accounts.StartSession(ctx, alice, app.SessionStart{Door: domain.DoorAPI})
	require.NoError(t, err)
	list, err := w.accounts.UserSessions(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, app.HashToken(first), list[0].Hash, "oldest first")

	require.NoError(t, w.accounts.EndAllSessions(ctx, "u-alice"))
	for _, tok := range []string{first, second} {
		_, err := w.accounts.Session(ctx, tok)
		assert.ErrorIs(t, err, app.ErrNoSession)
	}
	events, err := w.store.RecentAudit(ctx, 1)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, domain.AuditSessionsEnded, events[0].Type)
	assert.Equal(t, "u-alice", events[0].UserID)
}
