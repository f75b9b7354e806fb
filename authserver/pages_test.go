package authserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
)

// setCookies returns the cookies a page sets, by name.
func setCookies(p page) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: p.Header}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// TestCSRFTokensAreBoundToTheSession: a form's token is good only with the
// cookie of the page it came from. It changes at login and at logout, and
// a token of another browser's session is refused.
func TestCSRFTokensAreBoundToTheSession(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)

	loginForm := b.Get("/oauth/login")
	require.Equal(t, 200, loginForm.Status)
	pre := setCookies(loginForm)["authserver_csrf"]
	require.NotNil(t, pre, "a pre-session cookie binds the login form")
	assert.True(t, pre.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, pre.SameSite)
	assert.Equal(t, "/oauth/", pre.Path, "plain http: plain names, under the pages' path")
	assert.False(t, pre.Secure)
	preToken := csrfOf(t, loginForm)
	assert.NotEqual(t, pre.Value, preToken, "the token is not the cookie itself")
	assert.Equal(t, preToken, csrfOf(t, b.Get("/oauth/signup")), "one token for every page of the same cookie")

	login := b.Post("/oauth/login", url.Values{"csrf_token": {preToken}, "username": {"alice"}, "password": {"alice-password"}})
	require.Equal(t, 303, login.Status)
	cookies := setCookies(login)
	require.NotNil(t, cookies["authserver_session"])
	require.NotNil(t, cookies["authserver_csrf"])
	assert.Negative(t, cookies["authserver_csrf"].MaxAge, "login drops the pre-session cookie")

	account := b.Get("/oauth/account")
	require.Equal(t, 200, account.Status)
	sessionToken := csrfOf(t, account)
	assert.NotEqual(t, preToken, sessionToken, "the token changes at login")
	assert.Empty(t, setCookies(account), "signed in, the token derives from the session cookie: no new cookie")
	stale := b.Post("/oauth/logout", url.Values{"csrf_token": {preToken}})
	assert.Equal(t, 403, stale.Status, "the login page's token is stale once signed in")

	other := newBrowser(t, ts)
	require.Equal(t, 303, other.Login("/oauth/account").Status)
	otherToken := csrfOf(t, other.Get("/oauth/account"))
	assert.NotEqual(t, sessionToken, otherToken)
	assert.Equal(t, 403, b.Post("/oauth/logout", url.Values{"csrf_token": {otherToken}}).Status, "another session's token")
	assert.Equal(t, 403, b.Post("/oauth/account/revoke", url.Values{"csrf_token": {otherToken}, "client_id": {browserClient}}).Status)

	var sessionCookie *http.Cookie
	for _, c := range b.C.Jar.Cookies(mustURL(ts.URL + "/oauth/")) {
		if c.Name == "authserver_session" {
			sessionCookie = c
		}
	}
	require.NotNil(t, sessionCookie)
	out := b.Post("/oauth/logout", url.Values{"csrf_token": {sessionToken}})
	require.Equal(t, 303, out.Status)
	for _, name := range []string{"authserver_session", "authserver_csrf"} {
		require.NotNil(t, setCookies(out)[name], name)
		assert.Negative(t, setCookies(out)[name].MaxAge, "logout drops %s", name)
	}

	// The session ended on the server: its cookie, kept by a thief, opens
	// nothing.
	thief := newBrowser(t, ts)
	thief.C.Jar.SetCookies(mustURL(ts.URL+"/oauth/"), []*http.Cookie{{Name: sessionCookie.Name, Value: sessionCookie.Value, Path: "/oauth/"}})
	assert.Equal(t, 302, thief.Get("/oauth/account").Status, "logout ends the session server-side")

	again := b.Get("/oauth/login")
	newPre := csrfOf(t, again)
	assert.NotEqual(t, preToken, newPre, "the token changes at logout too")
	for name, token := range map[string]string{"before login": preToken, "of the ended session": sessionToken} {
		p := b.Post("/oauth/login", url.Values{"csrf_token": {token}, "username": {"alice"}, "password": {"alice-password"}})
		assert.Equal(t, 403, p.Status, "a token from %s", name)
	}
	assert.Equal(t, 303, b.Post("/oauth/login", url.Values{"csrf_token": {newPre}, "username": {"alice"}, "password": {"alice-password"}}).Status)
}

// TestCrossOriginPostsAreRefused: http.CrossOriginProtection stands in
// front of the pages, so a POST a browser marks as cross-origin is refused
// even when it carries a good token.
func TestCrossOriginPostsAreRefused(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	form := b.Get("/oauth/login")
	token := csrfOf(t, form)
	post := func(header map[string]string) page {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/oauth/login",
			strings.NewReader(url.Values{"csrf_token": {token}, "username": {"alice"}, "password": {"alice-password"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return b.Do(req)
	}
	for name, h := range map[string]map[string]string{
		"another site":                 {"Sec-Fetch-Site": "cross-site"},
		"another origin of this site":  {"Sec-Fetch-Site": "same-site"},
		"an Origin of another host":    {"Origin": "https://evil.example"},
		"a null Origin (sandboxed)":    {"Origin": "null"},
		"cross-site, claiming its own": {"Sec-Fetch-Site": "cross-site", "Origin": ts.URL},
	} {
		t.Run(name, func(t *testing.T) {
			p := post(h)
			assert.Equal(t, 403, p.Status)
			pageHeaders(t, p)
			assert.Contains(t, p.Body, "did not come from this site")
		})
	}
	assert.Equal(t, 303, post(map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.URL}).Status, "this site's own form")
}

// TestHostPrefixedCookiesUnderHTTPS: with an https issuer the cookies
// (session, pre-session and device) are __Host- cookies (Secure, Path=/, no
// Domain), and the flow works with them.
func TestHostPrefixedCookiesUnderHTTPS(t *testing.T) {
	ts := &testServer{Server: httptest.NewUnstartedServer(nil)}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	srv, err := authserver.New(context.Background(),
		authserver.WithIssuer(ts.URL),
		authserver.WithFixtures(demoFixtures, extraFixtures),
		authserver.WithPasswordHashing(authserver.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	ts.Config.Handler = r
	ts.srv = srv

	b := newBrowser(t, ts)
	b.C.Transport = ts.Client().Transport
	form := b.Get(authorizeQuery(nil))
	require.Equal(t, 302, form.Status)
	loginPage := b.Get(form.Location)
	require.Equal(t, 200, loginPage.Status)
	for _, c := range setCookies(loginPage) {
		assert.Equal(t, "__Host-authserver_csrf", c.Name)
		assert.True(t, c.Secure)
		assert.Equal(t, "/", c.Path)
		assert.Empty(t, c.Domain)
	}
	u, _ := url.Parse(form.Location)
	login := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, loginPage)}, "return_to": {u.Query().Get("return_to")},
		"username": {"alice"}, "password": {"alice-password"}})
	require.Equal(t, 303, login.Status, login.Body)
	for _, name := range []string{"__Host-authserver_session", "__Host-authserver_device"} {
		c := setCookies(login)[name]
		require.NotNil(t, c, name)
		assert.True(t, c.Secure, name)
		assert.Equal(t, "/", c.Path, name)
	}

	consent := b.Get(login.Location)
	require.Equal(t, 200, consent.Status, consent.Body)
	allow := b.Post("/oauth/authorize", consentForm(t, consent, "allow"))
	require.Equal(t, 303, allow.Status, allow.Body)
	assert.Contains(t, allow.Location, "code=")
}

// TestSignOutEverywhere: the account page lists the user's sessions, marks
// this browser's, and ends them all at once.
func TestSignOutEverywhere(t *testing.T) {
	ts := start(t)
	laptop, phone, bob := newBrowser(t, ts), newBrowser(t, ts), newBrowser(t, ts)
	require.Equal(t, 303, laptop.Login("/oauth/account").Status)
	require.Equal(t, 303, phone.Login("/oauth/account").Status)
	form := bob.Get("/oauth/signup")
	require.Equal(t, 303, bob.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"bob"},
		"password": {"bobs long password"}, "confirm": {"bobs long password"}}).Status)

	account := laptop.Get("/oauth/account")
	require.Equal(t, 200, account.Status)
	assert.Equal(t, 2, strings.Count(account.Body, "<time datetime=")/2, "two sessions listed: %s", account.Body)
	assert.Equal(t, 1, strings.Count(account.Body, "this browser"))
	assert.Contains(t, account.Body, "Sign out everywhere")

	// Signed in many times: the newest sessions and this browser's are
	// listed, the rest counted.
	for range 25 {
		require.Equal(t, 303, newBrowser(t, ts).Login("/oauth/account").Status)
	}
	account = laptop.Get("/oauth/account")
	assert.Equal(t, 20, strings.Count(account.Body, "<time datetime=")/2, "twenty rows")
	assert.Contains(t, account.Body, "this browser", "the oldest, but this browser's")
	assert.Contains(t, account.Body, "and 7 older")

	out := laptop.Post("/oauth/logout", url.Values{"csrf_token": {csrfOf(t, account)}, "everywhere": {"1"}})
	require.Equal(t, 303, out.Status)
	assert.Equal(t, "/oauth/login", out.Location)
	assert.Equal(t, 302, laptop.Get("/oauth/account").Status, "signed out here")
	assert.Equal(t, 302, phone.Get("/oauth/account").Status, "and on the phone")
	assert.Equal(t, 200, bob.Get("/oauth/account").Status, "another user stays signed in")
}

// TestFormActionAllowsOnlyWhereTheFormLeads: the pages' CSP limits forms
// to this server, plus the client's origin where the form's redirects end
// there (browsers apply form-action to those redirects).
func TestFormActionAllowsOnlyWhereTheFormLeads(t *testing.T) {
	ts := start(t)
	formAction := func(p page) string {
		for _, d := range strings.Split(p.Header.Get("Content-Security-Policy"), ";") {
			if d = strings.TrimSpace(d); strings.HasPrefix(d, "form-action ") {
				return strings.TrimPrefix(d, "form-action ")
			}
		}
		return ""
	}
	b := newBrowser(t, ts)
	assert.Equal(t, "'self'", formAction(b.Get("/oauth/login")))
	assert.Equal(t, "'self'", formAction(b.Get("/oauth/login?return_to=/oauth/account")))
	assert.Equal(t, "'self' http://localhost:5003", formAction(b.Get("/oauth/login?return_to="+url.QueryEscape(authorizeQuery(nil)))),
		"the login may end at the client, consent remembered")
	assert.Equal(t, "'self' http://localhost:5003", formAction(b.Get("/oauth/signup?return_to="+url.QueryEscape(authorizeQuery(nil)))))
	evil := authorizeQuery(map[string]string{"redirect_uri": "https://evil.example/cb"})
	assert.Equal(t, "'self'", formAction(b.Get("/oauth/login?return_to="+url.QueryEscape(evil))), "an unregistered redirect URI is not let in")
	failed := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, b.Get("/oauth/login"))}, "return_to": {authorizeQuery(nil)},
		"username": {"alice"}, "password": {"wrong"}})
	assert.Equal(t, "'self' http://localhost:5003", formAction(failed), "nor when the login is shown again")

	require.Equal(t, 303, b.Login("/oauth/account").Status)
	consent := b.Get(authorizeQuery(nil))
	require.Equal(t, 200, consent.Status)
	assert.Equal(t, "'self' http://localhost:5003", formAction(consent))
	assert.Equal(t, "'self'", formAction(b.Get("/oauth/account")))
	assert.Equal(t, "'self'", formAction(b.Get("/oauth/logout")))
}

// TestAMalformedCSRFCookieIsReplaced: a browser holding a cookie of the
// right name that this server did not make gets a new one, and the form
// it is shown works at once.
func TestAMalformedCSRFCookieIsReplaced(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	b.C.Jar.SetCookies(mustURL(ts.URL+"/oauth/"), []*http.Cookie{{Name: "authserver_csrf", Value: "short", Path: "/oauth/"}})
	form := b.Get("/oauth/login")
	require.NotNil(t, setCookies(form)["authserver_csrf"], "a new pre-session cookie")
	login := b.Post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"alice"}, "password": {"alice-password"}})
	assert.Equal(t, 303, login.Status, login.Body)
}
