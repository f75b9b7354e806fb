package authserver_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/authservertest"
	"github.com/oauth2ref/pkg/httpserver/servertest"
)

const (
	browserClient = authservertest.Client
	browserSecret = authservertest.Secret
	callback      = authservertest.Callback
	pkceVerifier  = authservertest.PKCEVerifier
)

// browser and page are authservertest's, under short names.
type (
	browser = authservertest.Browser
	page    = authservertest.Page
)

func newBrowser(t *testing.T, ts *testServer) *browser { return authservertest.New(t, ts.URL) }

func csrfOf(t *testing.T, p page) string { return authservertest.CSRF(t, p) }

func authorizeQuery(overrides map[string]string) string {
	return authservertest.AuthorizePath(overrides)
}

func consentForm(t *testing.T, consent page, decision string) url.Values {
	return authservertest.ConsentForm(t, consent, decision)
}

func pageHeaders(t *testing.T, p page) {
	t.Helper()
	assert.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
	assert.Contains(t, p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
}

// TestBrowserFlowOverHTTP walks the code flow the way a browser does:
// authorize -> login -> consent -> code -> token, checking every hop.
func TestBrowserFlowOverHTTP(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)

	first := b.Get(authorizeQuery(nil))
	require.Equal(t, 302, first.Status)
	loginURL, _ := url.Parse(first.Location)
	assert.Equal(t, "/oauth/login", loginURL.Path, "not signed in: to the login page")
	returnTo := loginURL.Query().Get("return_to")

	form := b.Get(first.Location)
	require.Equal(t, 200, form.Status)
	pageHeaders(t, form)
	assert.Contains(t, form.Body, `autocomplete="current-password"`)

	bad := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"nope"}})
	assert.Equal(t, 401, bad.Status)
	assert.Contains(t, bad.Body, "wrong username or password")

	afterLogin := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"alice-password"}})
	require.Equal(t, 303, afterLogin.Status, "303 after a POST (RFC 9700 §4.12)")
	assert.Equal(t, returnTo, afterLogin.Location)
	var session *http.Cookie
	for _, c := range b.C.Jar.Cookies(mustURL(ts.URL + "/oauth/")) {
		if c.Name == "authserver_session" {
			session = c
		}
	}
	require.NotNil(t, session, "signed in")

	consent := b.Get(afterLogin.Location)
	require.Equal(t, 200, consent.Status)
	pageHeaders(t, consent)
	assert.Contains(t, consent.Body, "Demo webapp")
	assert.Contains(t, consent.Body, "Read the current time")
	assert.Contains(t, consent.Body, "Read the time as seconds since the Unix epoch")
	assert.NotContains(t, consent.Body, `id="unvetted"`, "a fixture's client is the operator's")

	noCSRF := b.Post("/oauth/authorize", url.Values{"decision": {"allow"}, "client_id": {browserClient}})
	assert.Equal(t, 403, noCSRF.Status, "no CSRF token, no consent")
	wrongCSRF := b.Post("/oauth/authorize", url.Values{"decision": {"allow"}, "client_id": {browserClient}, "csrf_token": {strings.Repeat("x", 43)}})
	assert.Equal(t, 403, wrongCSRF.Status)

	allow := b.Post("/oauth/authorize", consentForm(t, consent, "allow"))
	require.Equal(t, 303, allow.Status)
	cb, _ := url.Parse(allow.Location)
	assert.Equal(t, "http://localhost:5003/callback", cb.Scheme+"://"+cb.Host+cb.Path)
	assert.Equal(t, "st-123", cb.Query().Get("state"))
	assert.Equal(t, ts.URL, cb.Query().Get("iss"), "RFC 9207")
	code := cb.Query().Get("code")
	require.NotEmpty(t, code)

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {strings.Repeat("a", 43)}}
	wrong := ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	assert.Equal(t, 400, wrong.status)
	assert.Equal(t, "invalid_grant", wrong.body["error"], "wrong PKCE verifier")

	code = approveAgain(t, b)
	exchange.Set("code", code)
	exchange.Set("code_verifier", pkceVerifier)
	tok := ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	require.Equal(t, 200, tok.status, tok.raw)
	assert.NotEmpty(t, tok.body["refresh_token"])
	assert.Equal(t, "current_time epoch_time", tok.body["scope"])

	replay := ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	assert.Equal(t, "invalid_grant", replay.body["error"], "a code is single-use")
	intro := ts.post(t, "/oauth/introspect", url.Values{"token": {tok.body["access_token"].(string)}}, "resourceserver", "resourceserver-secret")
	assert.JSONEq(t, `{"active":false}`, intro.raw, "and its replay revoked what it had issued")

	// Account page: the grant is listed; revoking it kills its tokens.
	code = approveAgain(t, b)
	exchange.Set("code", code)
	tok = ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	require.Equal(t, 200, tok.status)
	account := b.Get("/oauth/account")
	require.Equal(t, 200, account.Status)
	pageHeaders(t, account)
	assert.Contains(t, account.Body, "Demo webapp")
	revoke := b.Post("/oauth/account/revoke", url.Values{"csrf_token": {csrfOf(t, account)}, "client_id": {browserClient}})
	require.Equal(t, 303, revoke.Status)
	intro = ts.post(t, "/oauth/introspect", url.Values{"token": {tok.body["access_token"].(string)}}, "resourceserver", "resourceserver-secret")
	assert.JSONEq(t, `{"active":false}`, intro.raw, "revoking the grant revokes its access tokens")
	refresh := ts.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.body["refresh_token"].(string)}}, browserClient, browserSecret)
	assert.Equal(t, "invalid_grant", refresh.body["error"], "and its refresh tokens")
	assert.Equal(t, 200, b.Get(authorizeQuery(nil)).Status, "consent is asked again")

	// Logout needs CSRF and ends the session.
	logoutForm := b.Get("/oauth/logout")
	assert.Equal(t, 403, b.Post("/oauth/logout", url.Values{}).Status)
	out := b.Post("/oauth/logout", url.Values{"csrf_token": {csrfOf(t, logoutForm)}})
	require.Equal(t, 303, out.Status)
	assert.Equal(t, 302, b.Get("/oauth/account").Status, "signed out: the account page sends to login")
}

// approveAgain runs an authorization request for a signed-in user whose
// consent is remembered, returning the code.
func approveAgain(t *testing.T, b *browser) string {
	t.Helper()
	p := b.Get(authorizeQuery(nil))
	if p.Status == 200 { // consent asked (again)
		p = b.Post("/oauth/authorize", consentForm(t, p, "allow"))
	}
	require.Contains(t, []int{302, 303}, p.Status, p.Body)
	u, _ := url.Parse(p.Location)
	require.NotEmpty(t, u.Query().Get("code"), p.Location)
	return u.Query().Get("code")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestAuthorizeErrors(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	require.Equal(t, 303, b.Login("/oauth/account").Status)

	t.Run("never redirects to an untrusted place", func(t *testing.T) {
		for name, q := range map[string]map[string]string{
			"unregistered redirect_uri":    {"redirect_uri": "https://evil.example/cb"},
			"redirect_uri prefix trick":    {"redirect_uri": callback + "/../../evil"},
			"redirect_uri with extra path": {"redirect_uri": callback + "x"},
			"redirect_uri with a query":    {"redirect_uri": callback + "?next=https://evil.example"},
			"unknown client":               {"client_id": "evil-client"},
			"missing client":               {"client_id": ""},
		} {
			t.Run(name, func(t *testing.T) {
				p := b.Get(authorizeQuery(q))
				assert.Equal(t, 400, p.Status)
				assert.Empty(t, p.Location, "no redirect")
				pageHeaders(t, p)
			})
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+authorizeQuery(nil)+"&redirect_uri=https://evil.example/cb", nil)
		p := b.Do(req)
		assert.Equal(t, 400, p.Status, "a repeated redirect_uri is not trusted either")
		assert.Empty(t, p.Location)
	})

	t.Run("every other error goes back with state and iss", func(t *testing.T) {
		for name, c := range map[string]struct {
			q    map[string]string
			code string
		}{
			"no PKCE":                 {map[string]string{"code_challenge": "", "code_challenge_method": ""}, "invalid_request"},
			"plain PKCE":              {map[string]string{"code_challenge": pkceVerifier, "code_challenge_method": "plain"}, "invalid_request"},
			"bad scope":               {map[string]string{"scope": "admin"}, "invalid_scope"},
			"unsupported type":        {map[string]string{"response_type": "id_token"}, "unsupported_response_type"},
			"implicit not offered":    {map[string]string{"response_type": "token"}, "unsupported_response_type"},
			"missing response type":   {map[string]string{"response_type": ""}, "invalid_request"},
			"client may not use code": {map[string]string{"client_id": "refresher", "redirect_uri": ""}, ""},
		} {
			t.Run(name, func(t *testing.T) {
				p := b.Get(authorizeQuery(c.q))
				if c.code == "" { // refresher has no redirect URI: an error page
					assert.Equal(t, 400, p.Status)
					return
				}
				require.Equal(t, 302, p.Status, p.Body)
				u, _ := url.Parse(p.Location)
				params := u.Query()
				if c.q["response_type"] == "token" {
					// RFC 6749 §4.2.2.1: implicit errors travel in the fragment.
					params, _ = url.ParseQuery(u.Fragment)
					assert.True(t, strings.HasPrefix(p.Location, callback+"#"))
				} else {
					assert.True(t, strings.HasPrefix(p.Location, callback+"?"))
				}
				assert.Equal(t, c.code, params.Get("error"))
				assert.Equal(t, "st-123", params.Get("state"))
				assert.Equal(t, ts.URL, params.Get("iss"))
			})
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+authorizeQuery(nil)+"&scope=current_time", nil)
		p := b.Do(req)
		u, _ := url.Parse(p.Location)
		assert.Equal(t, "invalid_request", u.Query().Get("error"), "a repeated parameter")
	})

	t.Run("deny sends access_denied", func(t *testing.T) {
		consent := b.Get(authorizeQuery(nil))
		require.Equal(t, 200, consent.Status)
		p := b.Post("/oauth/authorize", consentForm(t, consent, "deny"))
		require.Equal(t, 303, p.Status)
		u, _ := url.Parse(p.Location)
		assert.Equal(t, "access_denied", u.Query().Get("error"))
		assert.Equal(t, "st-123", u.Query().Get("state"))
		assert.Equal(t, ts.URL, u.Query().Get("iss"))
	})
}

func TestNoOpenRedirectThroughReturnTo(t *testing.T) {
	ts := start(t)
	for _, evil := range []string{
		"https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
		"https:evil.example", "/oauth/../../evil", "javascript:alert(1)", "/oauth/login", "http://" + strings.TrimPrefix(ts.URL, "http://") + "@evil.example/",
	} {
		t.Run(evil, func(t *testing.T) {
			b := newBrowser(t, ts)
			p := b.Login(evil)
			require.Equal(t, 303, p.Status)
			assert.Equal(t, "/oauth/account", p.Location, "anything but our own pages falls back to the account page")
		})
	}
	b := newBrowser(t, ts)
	p := b.Login(authorizeQuery(nil))
	assert.Equal(t, authorizeQuery(nil), p.Location, "our own authorize URL is kept")
}

func TestSignupAndLoginLimits(t *testing.T) {
	ts := start(t, authserver.WithLoginLimits(authserver.LoginLimits{
		PerAccountSource: 3, PerAccount: 50, PerSource: 100, BaseDelay: time.Second, MaxDelay: time.Minute, Window: time.Hour,
	}))
	b := newBrowser(t, ts)
	form := b.Get("/oauth/signup")
	require.Equal(t, 200, form.Status)
	short := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"short"}, "confirm": {"short"}})
	assert.Equal(t, 400, short.Status)
	assert.Contains(t, short.Body, "at least 12")
	differ := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"long enough password"}, "confirm": {"another password!!"}})
	assert.Contains(t, differ.Body, "differ")
	ok := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"long enough password"}, "confirm": {"long enough password"}})
	require.Equal(t, 303, ok.Status, ok.Body)
	assert.Equal(t, 200, b.Get("/oauth/account").Status, "signed in after signup")
	fresh := newBrowser(t, ts)
	form = fresh.Get("/oauth/signup")
	// PRECIS refuses the space, so the page comes back with the name in it.
	xss := fresh.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {`<script>alert(1)</script> x`}, "password": {"long enough password"}, "confirm": {"long enough password"}})
	require.Equal(t, 400, xss.Status)
	assert.Contains(t, xss.Body, "&lt;script&gt;alert(1)&lt;/script&gt; x", "the name is shown back")
	assert.NotContains(t, xss.Body, "<script>alert(1)</script>", "escaped")

	// Brute force on the login page: slowed per account and source.
	m := newBrowser(t, ts)
	lf := m.Get("/oauth/login")
	for i := 0; i < 3; i++ {
		p := m.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, lf)}, "username": {"carol"}, "password": {"guess"}})
		require.Equal(t, 401, p.Status)
	}
	p := m.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, lf)}, "username": {"carol"}, "password": {"long enough password"}})
	assert.Equal(t, 429, p.Status)
	assert.Contains(t, p.Body, "too many failed attempts")
}

// TestHeadWhereverGetIsServed: every GET route of the handler answers HEAD
// the same way, without a body, even mounted on a router of the embedder's
// that knows nothing of HEAD.
func TestHeadWhereverGetIsServed(t *testing.T) {
	ts := start(t)
	signedIn := newBrowser(t, ts)
	require.Equal(t, 303, signedIn.Login("/oauth/account").Status)
	// Signed out: no cookie jar, so GET and HEAD each start afresh.
	signedOut := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, c := range map[string]struct {
		c    *http.Client
		path string
	}{
		"jwks":                    {signedOut, "/oauth/jwks.json"},
		"login":                   {signedOut, "/oauth/login"},
		"signup":                  {signedOut, "/oauth/signup"},
		"logout":                  {signedOut, "/oauth/logout"},
		"account, signed out":     {signedOut, "/oauth/account"},
		"account":                 {signedIn.C, "/oauth/account"},
		"authorize, signed out":   {signedOut, authorizeQuery(nil)},
		"authorize, bad redirect": {signedOut, authorizeQuery(map[string]string{"redirect_uri": "https://evil.example/cb"})},
		"consent":                 {signedIn.C, authorizeQuery(nil)}, // HEAD must not skip it

		"stylesheet": {signedOut, "/oauth/static/style.css"},
	} {
		t.Run(name, func(t *testing.T) {
			servertest.HeadLikeGet(t, c.c, func(method string) *http.Request {
				req, _ := http.NewRequestWithContext(t.Context(), method, ts.URL+c.path, nil)
				return req
			})
		})
	}
}

func TestStaticFilesWithoutListings(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	css := b.Get("/oauth/static/style.css")
	assert.Equal(t, 200, css.Status)
	assert.Equal(t, "nosniff", css.Header.Get("X-Content-Type-Options"))
	for _, path := range []string{"/oauth/static/", "/oauth/static/.", "/oauth/static//", "/oauth/static/nope.css", "/oauth/static/../templates/login.html"} {
		p := b.Get(path)
		assert.Contains(t, []int{301, 404}, p.Status, path)
		assert.NotContains(t, p.Body, "style.css", "%s lists no directory", path)
		if p.Status == 301 {
			assert.Equal(t, 404, b.Get(p.Location).Status, "%s redirects to nothing to see", path)
		}
	}
}

// TestAccountRevokeTakesOnlyRealGrants: a made-up client id changes
// nothing and says nothing was revoked; an overlong one is a 400.
func TestAccountRevokeTakesOnlyRealGrants(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	require.Equal(t, 303, b.Login("/oauth/account").Status)
	account := b.Get("/oauth/account")
	require.Equal(t, 200, account.Status)
	csrf := csrfOf(t, account)

	unknown := b.Post("/oauth/account/revoke", url.Values{"csrf_token": {csrf}, "client_id": {"made-up-client"}})
	assert.Equal(t, 303, unknown.Status)
	assert.Equal(t, "/oauth/account", unknown.Location, "no \"revoked\" notice")

	long := b.Post("/oauth/account/revoke", url.Values{"csrf_token": {csrf}, "client_id": {strings.Repeat("x", 50<<10)}})
	assert.Equal(t, 400, long.Status)
	pageHeaders(t, long)
}
