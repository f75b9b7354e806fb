package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/authserver/authservertest"
)

// The server as an OpenID Provider, seen by a relying party library that
// knows nothing of it: go-oidc's discovery, ID token verification and
// UserInfo, over HTTP, with no special cases.

const aliceID = "5b8f3c2e-4a1d-4e7b-9c6a-2d1f0e8b7a93" // configs/fixtures/demo.json

// rp is a relying party of ts: the demo browser client through go-oidc
// and x/oauth2.
type rp struct {
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, ts *testServer, scopes ...string) rp {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), ts.URL)
	require.NoError(t, err, "discovery")
	return rp{
		provider: provider,
		conf: oauth2.Config{ClientID: browserClient, ClientSecret: browserSecret, Endpoint: provider.Endpoint(),
			RedirectURL: callback, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)},
		verifier: provider.Verifier(&oidc.Config{ClientID: browserClient}),
	}
}

// signIn runs the code flow for alice in b with nonce and returns the
// tokens and the verified ID token.
func (r rp) signIn(t *testing.T, b *browser, nonce string, extra ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	back := b.Authorize(r.conf.AuthCodeURL("st-oidc", opts...), "alice", "alice-password", "allow")
	u, err := url.Parse(back)
	require.NoError(t, err)
	require.Equal(t, "st-oidc", u.Query().Get("state"), back)
	require.NotEmpty(t, u.Query().Get("code"), back)
	tok, err := r.conf.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	raw, ok := tok.Extra("id_token").(string)
	require.True(t, ok, "the token response has an id_token")
	idt, err := r.verifier.Verify(t.Context(), raw)
	require.NoError(t, err, "go-oidc verifies it: issuer, audience, expiry, signature through the JWKS")
	return tok, idt
}

type idClaims struct {
	AuthTime int64    `json:"auth_time"`
	Amr      []string `json:"amr"`
	Sid      string   `json:"sid"`
	AtHash   string   `json:"at_hash"`
}

func TestOpenIDConnectThroughGoOIDC(t *testing.T) {
	ts := start(t)
	r := newRP(t, ts, "profile", "email")
	b := newBrowser(t, ts)

	var disc struct {
		UserInfo   string   `json:"userinfo_endpoint"`
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		Subjects   []string `json:"subject_types_supported"`
		Prompts    []string `json:"prompt_values_supported"`
		Claims     []string `json:"claims_supported"`
		Scopes     []string `json:"scopes_supported"`
		RequestURI *bool    `json:"request_uri_parameter_supported"`
	}
	require.NoError(t, r.provider.Claims(&disc))
	assert.Equal(t, ts.URL+"/oauth/userinfo", disc.UserInfo)
	assert.Equal(t, ts.URL+"/oauth/end_session", disc.EndSession)
	assert.Equal(t, []string{"ES256", "RS256"}, disc.Algs)
	assert.Equal(t, []string{"public"}, disc.Subjects)
	assert.Equal(t, []string{"none", "login", "consent"}, disc.Prompts)
	assert.Subset(t, disc.Claims, []string{"sub", "auth_time", "nonce", "name", "email", "email_verified"})
	assert.Subset(t, disc.Scopes, []string{"openid", "profile", "email"})
	require.NotNil(t, disc.RequestURI)
	assert.False(t, *disc.RequestURI, "said, since its default is true")
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/.well-known/oauth-authorization-server", nil)
	rfc8414 := do(t, req)
	assert.Equal(t, ts.URL+"/oauth/userinfo", rfc8414.body["userinfo_endpoint"], "one document: the RFC 8414 one says the same")

	before := time.Now().Add(-time.Second).Unix()
	tok, idt := r.signIn(t, b, "n-0S6_WzA2Mj")
	assert.Equal(t, aliceID, idt.Subject, "sub is the user's stable id")
	assert.Equal(t, []string{browserClient}, idt.Audience)
	assert.Equal(t, "n-0S6_WzA2Mj", idt.Nonce, "the nonce round-trips")
	assert.NotEqual(t, "another-nonce", idt.Nonce, "so a relying party that sent another one refuses it")
	require.NoError(t, idt.VerifyAccessToken(tok.AccessToken), "at_hash matches the access token")
	var c idClaims
	require.NoError(t, idt.Claims(&c))
	assert.GreaterOrEqual(t, c.AuthTime, before, "auth_time is the sign-in's")
	assert.Equal(t, []string{"pwd"}, c.Amr)
	assert.NotEmpty(t, c.Sid)

	_, err := r.provider.Verifier(&oidc.Config{ClientID: "1234"}).Verify(t.Context(), tok.Extra("id_token").(string))
	assert.ErrorContains(t, err, "audience", "an ID token for another audience is refused")
	_, err = r.provider.Verifier(&oidc.Config{ClientID: browserClient, SupportedSigningAlgs: []string{"ES256"}}).
		Verify(t.Context(), tok.Extra("id_token").(string))
	assert.Error(t, err, "it is RS256, the default, not the access tokens' ES256")

	info, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	require.NoError(t, err, "UserInfo")
	assert.Equal(t, aliceID, info.Subject)
	assert.Equal(t, "alice@example.com", info.Email)
	assert.True(t, info.EmailVerified)
	var profile struct {
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
		UpdatedAt         int64  `json:"updated_at"`
	}
	require.NoError(t, info.Claims(&profile))
	assert.Equal(t, "Alice Example", profile.Name)
	assert.Equal(t, "alice", profile.PreferredUsername)
	assert.NotZero(t, profile.UpdatedAt)

	t.Run("refresh: a new ID token, same sub and auth_time", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // a new iat
		fresh := ts.refresh(t, tok.RefreshToken)
		require.Equal(t, 200, fresh.status, fresh.raw)
		raw, _ := fresh.body["id_token"].(string)
		require.NotEmpty(t, raw)
		again, err := r.verifier.Verify(t.Context(), raw)
		require.NoError(t, err)
		var c2 idClaims
		require.NoError(t, again.Claims(&c2))
		assert.Equal(t, idt.Subject, again.Subject)
		assert.Equal(t, c.AuthTime, c2.AuthTime)
		assert.Equal(t, c.Sid, c2.Sid)
		assert.Empty(t, again.Nonce)
		assert.True(t, again.IssuedAt.After(idt.IssuedAt))
		require.NoError(t, again.VerifyAccessToken(fresh.body["access_token"].(string)))
	})
	t.Run("a client registered for ES256 gets ES256", func(t *testing.T) {
		es := r
		es.conf.ClientID, es.conf.ClientSecret, es.conf.RedirectURL = "es-rp", refresherSec, "http://localhost:5003/es-callback"
		es.conf.Scopes = []string{oidc.ScopeOpenID, "profile"}
		es.verifier = r.provider.Verifier(&oidc.Config{ClientID: "es-rp", SupportedSigningAlgs: []string{"ES256"}})
		_, idt := es.signIn(t, b, "n2")
		assert.Equal(t, aliceID, idt.Subject)
	})
	t.Run("without openid: no ID token, and UserInfo says insufficient_scope", func(t *testing.T) {
		pw := ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}, "1234", "qwerty")
		require.Equal(t, 200, pw.status)
		assert.NotContains(t, pw.body, "id_token")
		_, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: pw.body["access_token"].(string)}))
		require.Error(t, err)
		res := userInfo(t, ts, http.MethodGet, pw.body["access_token"].(string), nil)
		assert.Equal(t, 403, res.status)
		assert.Equal(t, "insufficient_scope", res.body["error"])
		assert.Equal(t, `Bearer realm="authserver", error="insufficient_scope", scope="openid"`, res.header.Get("WWW-Authenticate"))
	})
}

// userInfo calls the UserInfo endpoint with token in the header, or in a
// form body if form is set.
func userInfo(t *testing.T, ts *testServer, method, token string, form url.Values) reply {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, ts.URL+"/oauth/userinfo", body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func TestUserInfoErrors(t *testing.T) {
	ts := start(t)
	r := newRP(t, ts, "profile")
	tok, _ := r.signIn(t, newBrowser(t, ts), "n")

	ok := userInfo(t, ts, http.MethodPost, "", url.Values{"access_token": {tok.AccessToken}})
	require.Equal(t, 200, ok.status, ok.raw)
	assert.Equal(t, aliceID, ok.body["sub"])
	assert.Equal(t, "Alice Example", ok.body["name"])
	assert.NotContains(t, ok.body, "email", "the email scope was not granted")
	assert.Equal(t, "no-store", ok.header.Get("Cache-Control"))

	none := userInfo(t, ts, http.MethodGet, "", nil)
	assert.Equal(t, 401, none.status)
	assert.Equal(t, `Bearer realm="authserver"`, none.header.Get("WWW-Authenticate"), "RFC 6750 §3.1: no error code without a token")
	bad := userInfo(t, ts, http.MethodGet, "not-a-token", nil)
	assert.Equal(t, 401, bad.status)
	assert.Contains(t, bad.header.Get("WWW-Authenticate"), `error="invalid_token"`)
	both := userInfo(t, ts, http.MethodPost, tok.AccessToken, url.Values{"access_token": {tok.AccessToken}})
	assert.Equal(t, 400, both.status)
	assert.Equal(t, "invalid_request", both.body["error"])
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/oauth/userinfo?access_token="+tok.AccessToken, nil)
	inURL := do(t, req)
	assert.Equal(t, 400, inURL.status, "never in the URL")
	req, _ = http.NewRequest(http.MethodPut, ts.URL+"/oauth/userinfo", nil)
	assert.Equal(t, 405, do(t, req).status)

	revoke := ts.post(t, "/oauth/revoke", url.Values{"token": {tok.AccessToken}}, browserClient, browserSecret)
	require.Equal(t, 200, revoke.status)
	gone := userInfo(t, ts, http.MethodGet, tok.AccessToken, nil)
	assert.Equal(t, 401, gone.status, "a revoked token")
	assert.Equal(t, "invalid_token", gone.body["error"])
}

// location follows p's redirect target's query.
func query(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	return u.Query()
}

func TestPromptAndMaxAgeOverHTTP(t *testing.T) {
	ts := start(t)
	r := newRP(t, ts, "profile")
	b := newBrowser(t, ts)
	authURL := func(opts ...oauth2.AuthCodeOption) string {
		return r.conf.AuthCodeURL("st", append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(authservertest.PKCEVerifier)}, opts...)...)
	}

	silent := b.Get(authURL(oauth2.SetAuthURLParam("prompt", "none")))
	require.Equal(t, 302, silent.Status)
	assert.True(t, strings.HasPrefix(silent.Location, callback+"?"), "straight back to the client, no page: %s", silent.Location)
	assert.Equal(t, "login_required", query(t, silent.Location).Get("error"))
	assert.Equal(t, "st", query(t, silent.Location).Get("state"))
	assert.Equal(t, ts.URL, query(t, silent.Location).Get("iss"))

	_, first := r.signIn(t, b, "n1")
	silent = b.Get(authURL(oauth2.SetAuthURLParam("prompt", "none")))
	assert.NotEmpty(t, query(t, silent.Location).Get("code"), "signed in and consented: a code without a page")

	again := b.Get(authURL(oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("login_hint", "alice")))
	require.Equal(t, 302, again.Status)
	loginURL, err := url.Parse(again.Location)
	require.NoError(t, err)
	assert.Equal(t, "/oauth/login", loginURL.Path, "prompt=login: to the login page although signed in")
	form := b.Get(again.Location)
	require.Equal(t, 200, form.Status, "which shows its form, not a redirect")
	assert.Contains(t, form.Body, `name="username" value="alice"`, "login_hint fills in the username")
	returnTo := loginURL.Query().Get("return_to")
	assert.NotContains(t, returnTo, "prompt=login", "the request to come back with asks no more")

	time.Sleep(1100 * time.Millisecond) // a later auth_time
	in := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"alice-password"}})
	require.Equal(t, 303, in.Status, in.Body)
	back := b.Get(in.Location)
	require.Equal(t, 302, back.Status, back.Body)
	code := query(t, back.Location).Get("code")
	require.NotEmpty(t, code, back.Location)
	tok, err := r.conf.Exchange(t.Context(), code, oauth2.VerifierOption(authservertest.PKCEVerifier))
	require.NoError(t, err)
	second, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	require.NoError(t, err)
	var c1, c2 idClaims
	require.NoError(t, first.Claims(&c1))
	require.NoError(t, second.Claims(&c2))
	assert.Greater(t, c2.AuthTime, c1.AuthTime, "auth_time tells of the new sign-in")
	assert.NotEqual(t, c1.Sid, c2.Sid, "a new session")
	account := b.Get("/oauth/account")
	assert.NotContains(t, account.Body, "Sign out the session of", "signing in again ended the browser's old session")

	old := b.Get(authURL(oauth2.SetAuthURLParam("max_age", "0")))
	assert.Equal(t, "/oauth/login", mustURL(old.Location).Path, "max_age=0: sign in again")
	recent := b.Get(authURL(oauth2.SetAuthURLParam("max_age", "3600")))
	assert.NotEmpty(t, query(t, recent.Location).Get("code"), "signed in within the hour")

	refused := b.Get(authURL(oauth2.SetAuthURLParam("request", "eyJhbGciOiJub25lIn0.e30.")))
	assert.Equal(t, "request_not_supported", query(t, refused.Location).Get("error"))
	refused = b.Get(authURL(oauth2.SetAuthURLParam("claims", `{"id_token":{"email":null}}`)))
	assert.Equal(t, "invalid_request", query(t, refused.Location).Get("error"))
}

func TestSignUpWithAProfile(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	form := b.Get("/oauth/signup")
	require.Contains(t, form.Body, `autocomplete="email"`)
	bad := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"dora"}, "password": {"long enough password"},
		"confirm": {"long enough password"}, "name": {"Dora Explorer"}, "email": {"Dora <dora@example.com>"}})
	require.Equal(t, 400, bad.Status)
	assert.Contains(t, bad.Body, "someone@example.com")
	assert.Contains(t, bad.Body, `value="Dora Explorer"`, "the name is kept")
	ok := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"dora"}, "password": {"long enough password"},
		"confirm": {"long enough password"}, "name": {" Dora Explorer "}, "email": {"dora@example.com"}})
	require.Equal(t, 303, ok.Status, ok.Body)

	r := newRP(t, ts, "profile", "email")
	verifier := oauth2.GenerateVerifier()
	back := b.Authorize(r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "dora", "long enough password", "allow")
	tok, err := r.conf.Exchange(t.Context(), query(t, back).Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	info, err := r.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	var profile struct {
		Name string `json:"name"`
	}
	require.NoError(t, info.Claims(&profile))
	assert.Equal(t, "Dora Explorer", profile.Name, "trimmed")
	assert.Equal(t, "dora@example.com", info.Email)
	assert.False(t, info.EmailVerified, "nothing proved the address is hers")

	account := b.Get("/oauth/account")
	require.Equal(t, 200, account.Status)
	assert.Contains(t, account.Body, "dora@example.com")
	assert.Regexp(t, `(?s)Who sees your email address.*<li>Demo webapp</li>`, account.Body, "the app that may see it is named")
}

func TestRPInitiatedLogout(t *testing.T) {
	ts := start(t)
	r := newRP(t, ts)
	b := newBrowser(t, ts)
	tok, _ := r.signIn(t, b, "n")
	hint := tok.Extra("id_token").(string)
	logout := "/oauth/end_session?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://localhost:5003/"}, "state": {"bye-1"}}.Encode()

	// The client's page may POST instead: sent on as a GET, to carry the
	// SameSite=Lax session cookie.
	posted := b.Post("/oauth/end_session", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://localhost:5003/"}, "state": {"bye-1"}})
	require.Equal(t, 303, posted.Status)
	assert.Equal(t, "/oauth/end_session", mustURL(posted.Location).Path)
	assert.Equal(t, hint, query(t, posted.Location).Get("id_token_hint"))

	confirm := b.Get(logout)
	require.Equal(t, 200, confirm.Status, confirm.Body)
	pageHeaders(t, confirm)
	assert.Contains(t, confirm.Body, "Demo webapp")
	assert.Contains(t, confirm.Header.Get("Content-Security-Policy"), "form-action 'self' http://localhost:5003", "the answer goes on to the client")
	assert.Equal(t, 200, b.Get("/oauth/account").Status, "asking signs nobody out")

	stay := authservertest.ConsentForm(t, confirm, "stay")
	stayed := b.Post("/oauth/end_session/confirm", stay)
	require.Equal(t, 303, stayed.Status)
	assert.Equal(t, "http://localhost:5003/?state=bye-1", stayed.Location)
	assert.Equal(t, 200, b.Get("/oauth/account").Status, "still signed in")

	confirm = b.Get(logout)
	out := b.Post("/oauth/end_session/confirm", authservertest.ConsentForm(t, confirm, "logout"))
	require.Equal(t, 303, out.Status, out.Body)
	assert.Equal(t, "http://localhost:5003/?state=bye-1", out.Location, "back to the registered URI, with the state")
	assert.Equal(t, 302, b.Get("/oauth/account").Status, "signed out here")

	silent := b.Get(logout)
	assert.Equal(t, 302, silent.Status, "nobody signed in: straight on")
	assert.Equal(t, "http://localhost:5003/?state=bye-1", silent.Location)

	t.Run("refused on a page, never redirected", func(t *testing.T) {
		for name, q := range map[string]url.Values{
			"an unregistered URI":  {"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}},
			"a URI without client": {"post_logout_redirect_uri": {"http://localhost:5003/"}},
			"a forged hint":        {"id_token_hint": {hint[:len(hint)-4] + "AAAA"}, "post_logout_redirect_uri": {"http://localhost:5003/"}},
			"another client's id":  {"id_token_hint": {hint}, "client_id": {"1234"}},
		} {
			p := b.Get("/oauth/end_session?" + q.Encode())
			assert.Equal(t, 400, p.Status, name)
			assert.Empty(t, p.Location, name)
		}
	})
	t.Run("without a URI, the signed-out page", func(t *testing.T) {
		b := newBrowser(t, ts)
		r.signIn(t, b, "n")
		confirm := b.Get("/oauth/end_session?client_id=" + browserClient)
		out := b.Post("/oauth/end_session/confirm", authservertest.ConsentForm(t, confirm, "logout"))
		require.Equal(t, 303, out.Status)
		done := b.Get(out.Location)
		assert.Equal(t, 200, done.Status)
		assert.Contains(t, done.Body, "You are signed out")
	})
	t.Run("the confirmation is a form of this site's", func(t *testing.T) {
		b := newBrowser(t, ts)
		r.signIn(t, b, "n")
		forged := b.Post("/oauth/end_session/confirm", url.Values{"decision": {"logout"}, "csrf_token": {"x"}})
		assert.Equal(t, 403, forged.Status)
		assert.Equal(t, 200, b.Get("/oauth/account").Status, "still signed in")
	})
}
