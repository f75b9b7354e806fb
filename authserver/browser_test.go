package authserver_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauth2ref/authserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	browserClient = "webapp-browser"
	browserSecret = "webapp-browser-secret"
	callback      = "http://localhost:5003/callback"
	pkceVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// browser is a cookie-keeping client that does not follow redirects, so
// each hop can be checked.
type browser struct {
	t  *testing.T
	ts *testServer
	c  *http.Client
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	header   http.Header
	body     string
	location string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw), location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.ts.URL + path
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no CSRF field on the page: %s", p.body)
	return m[1]
}

func authorizeQuery(overrides map[string]string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {browserClient}, "redirect_uri": {callback},
		"state": {"st-123"}, "code_challenge": {s256(pkceVerifier)}, "code_challenge_method": {"S256"}, "scope": {"current_time epoch_time"}}
	for k, val := range overrides {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return "/oauth/authorize?" + v.Encode()
}

// login signs in as alice through the login page, returning where it sent
// the browser.
func (b *browser) login(returnTo string) page {
	b.t.Helper()
	form := b.get("/oauth/login?return_to=" + url.QueryEscape(returnTo))
	require.Equal(b.t, 200, form.status)
	return b.post("/oauth/login", url.Values{"csrf_token": {csrfOf(b.t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"alice-password"}})
}

func pageHeaders(t *testing.T, p page) {
	t.Helper()
	assert.Equal(t, "DENY", p.header.Get("X-Frame-Options"))
	assert.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "no-store", p.header.Get("Cache-Control"))
}

// TestBrowserFlowOverHTTP walks the code flow the way a browser does:
// authorize -> login -> consent -> code -> token, checking every hop.
func TestBrowserFlowOverHTTP(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)

	first := b.get(authorizeQuery(nil))
	require.Equal(t, 302, first.status)
	loginURL, _ := url.Parse(first.location)
	assert.Equal(t, "/oauth/login", loginURL.Path, "not signed in: to the login page")
	returnTo := loginURL.Query().Get("return_to")

	form := b.get(first.location)
	require.Equal(t, 200, form.status)
	pageHeaders(t, form)
	assert.Contains(t, form.body, `autocomplete="current-password"`)

	bad := b.post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"nope"}})
	assert.Equal(t, 401, bad.status)
	assert.Contains(t, bad.body, "wrong username or password")

	afterLogin := b.post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, form)}, "return_to": {returnTo}, "username": {"alice"}, "password": {"alice-password"}})
	require.Equal(t, 303, afterLogin.status, "303 after a POST (RFC 9700 §4.12)")
	assert.Equal(t, returnTo, afterLogin.location)
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(mustURL(ts.URL + "/oauth/")) {
		if c.Name == "authserver_session" {
			session = c
		}
	}
	require.NotNil(t, session, "signed in")

	consent := b.get(afterLogin.location)
	require.Equal(t, 200, consent.status)
	pageHeaders(t, consent)
	assert.Contains(t, consent.body, "Demo webapp")
	assert.Contains(t, consent.body, "Read the current time")
	assert.Contains(t, consent.body, "Read the time as seconds since the Unix epoch")

	noCSRF := b.post("/oauth/authorize", url.Values{"decision": {"allow"}, "client_id": {browserClient}})
	assert.Equal(t, 403, noCSRF.status, "no CSRF token, no consent")
	wrongCSRF := b.post("/oauth/authorize", url.Values{"decision": {"allow"}, "client_id": {browserClient}, "csrf_token": {strings.Repeat("x", 43)}})
	assert.Equal(t, 403, wrongCSRF.status)

	allow := b.post("/oauth/authorize", consentForm(t, consent, "allow"))
	require.Equal(t, 303, allow.status)
	cb, _ := url.Parse(allow.location)
	assert.Equal(t, "http://localhost:5003/callback", cb.Scheme+"://"+cb.Host+cb.Path)
	assert.Equal(t, "st-123", cb.Query().Get("state"))
	assert.Equal(t, ts.URL, cb.Query().Get("iss"), "RFC 9207")
	code := cb.Query().Get("code")
	require.NotEmpty(t, code)

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {strings.Repeat("a", 43)}}
	wrong := ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	assert.Equal(t, 400, wrong.status)
	assert.Equal(t, "invalid_grant", wrong.body["error"], "wrong PKCE verifier")

	code = b.approveAgain(t)
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
	code = b.approveAgain(t)
	exchange.Set("code", code)
	tok = ts.post(t, "/oauth/token", exchange, browserClient, browserSecret)
	require.Equal(t, 200, tok.status)
	account := b.get("/oauth/account")
	require.Equal(t, 200, account.status)
	pageHeaders(t, account)
	assert.Contains(t, account.body, "Demo webapp")
	revoke := b.post("/oauth/account/revoke", url.Values{"csrf_token": {csrfOf(t, account)}, "client_id": {browserClient}})
	require.Equal(t, 303, revoke.status)
	intro = ts.post(t, "/oauth/introspect", url.Values{"token": {tok.body["access_token"].(string)}}, "resourceserver", "resourceserver-secret")
	assert.JSONEq(t, `{"active":false}`, intro.raw, "revoking the grant revokes its access tokens")
	refresh := ts.post(t, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.body["refresh_token"].(string)}}, browserClient, browserSecret)
	assert.Equal(t, "invalid_grant", refresh.body["error"], "and its refresh tokens")
	assert.Equal(t, 200, b.get(authorizeQuery(nil)).status, "consent is asked again")

	// Logout needs CSRF and ends the session.
	logoutForm := b.get("/oauth/logout")
	assert.Equal(t, 403, b.post("/oauth/logout", url.Values{}).status)
	out := b.post("/oauth/logout", url.Values{"csrf_token": {csrfOf(t, logoutForm)}})
	require.Equal(t, 303, out.status)
	assert.Equal(t, 302, b.get("/oauth/account").status, "signed out: the account page sends to login")
}

func consentForm(t *testing.T, consent page, decision string) url.Values {
	t.Helper()
	form := url.Values{"decision": {decision}, "csrf_token": {csrfOf(t, consent)}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`).FindAllStringSubmatch(consent.body, -1) {
		if m[1] != "csrf_token" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return form
}

// approveAgain runs an authorization request for a signed-in user whose
// consent is remembered, returning the code.
func (b *browser) approveAgain(t *testing.T) string {
	t.Helper()
	p := b.get(authorizeQuery(nil))
	if p.status == 200 { // consent asked (again)
		p = b.post("/oauth/authorize", consentForm(t, p, "allow"))
	}
	require.Contains(t, []int{302, 303}, p.status, p.body)
	u, _ := url.Parse(p.location)
	require.NotEmpty(t, u.Query().Get("code"), p.location)
	return u.Query().Get("code")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestAuthorizeErrors(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	require.Equal(t, 303, b.login("/oauth/account").status)

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
				p := b.get(authorizeQuery(q))
				assert.Equal(t, 400, p.status)
				assert.Empty(t, p.location, "no redirect")
				pageHeaders(t, p)
			})
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+authorizeQuery(nil)+"&redirect_uri=https://evil.example/cb", nil)
		p := b.do(req)
		assert.Equal(t, 400, p.status, "a repeated redirect_uri is not trusted either")
		assert.Empty(t, p.location)
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
				p := b.get(authorizeQuery(c.q))
				if c.code == "" { // refresher has no redirect URI: an error page
					assert.Equal(t, 400, p.status)
					return
				}
				require.Equal(t, 302, p.status, p.body)
				u, _ := url.Parse(p.location)
				params := u.Query()
				if c.q["response_type"] == "token" {
					// RFC 6749 §4.2.2.1: implicit errors travel in the fragment.
					params, _ = url.ParseQuery(u.Fragment)
					assert.True(t, strings.HasPrefix(p.location, callback+"#"))
				} else {
					assert.True(t, strings.HasPrefix(p.location, callback+"?"))
				}
				assert.Equal(t, c.code, params.Get("error"))
				assert.Equal(t, "st-123", params.Get("state"))
				assert.Equal(t, ts.URL, params.Get("iss"))
			})
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+authorizeQuery(nil)+"&scope=current_time", nil)
		p := b.do(req)
		u, _ := url.Parse(p.location)
		assert.Equal(t, "invalid_request", u.Query().Get("error"), "a repeated parameter")
	})

	t.Run("deny sends access_denied", func(t *testing.T) {
		consent := b.get(authorizeQuery(nil))
		require.Equal(t, 200, consent.status)
		p := b.post("/oauth/authorize", consentForm(t, consent, "deny"))
		require.Equal(t, 303, p.status)
		u, _ := url.Parse(p.location)
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
			p := b.login(evil)
			require.Equal(t, 303, p.status)
			assert.Equal(t, "/oauth/account", p.location, "anything but our own pages falls back to the account page")
		})
	}
	b := newBrowser(t, ts)
	p := b.login(authorizeQuery(nil))
	assert.Equal(t, authorizeQuery(nil), p.location, "our own authorize URL is kept")
}

func TestSignupAndLoginLimits(t *testing.T) {
	ts := start(t, authserver.WithLoginLimits(3, 60_000_000_000))
	b := newBrowser(t, ts)
	form := b.get("/oauth/signup")
	require.Equal(t, 200, form.status)
	short := b.post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"short"}, "confirm": {"short"}})
	assert.Equal(t, 400, short.status)
	assert.Contains(t, short.body, "at least 12")
	differ := b.post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"long enough password"}, "confirm": {"another password!!"}})
	assert.Contains(t, differ.body, "differ")
	ok := b.post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {"carol"}, "password": {"long enough password"}, "confirm": {"long enough password"}})
	require.Equal(t, 303, ok.status, ok.body)
	assert.Equal(t, 200, b.get("/oauth/account").status, "signed in after signup")
	xss := b.post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {`<script>alert(1)</script>`}, "password": {"long enough password"}, "confirm": {"long enough password"}})
	assert.NotContains(t, xss.body, "<script>alert(1)</script>", "reflected input is escaped")

	// Brute force on the login page: per account.
	m := newBrowser(t, ts)
	lf := m.get("/oauth/login")
	for i := 0; i < 3; i++ {
		p := m.post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, lf)}, "username": {"carol"}, "password": {"guess"}})
		require.Equal(t, 401, p.status)
	}
	p := m.post("/oauth/login", url.Values{"csrf_token": {csrfOf(t, lf)}, "username": {"carol"}, "password": {"long enough password"}})
	assert.Equal(t, 401, p.status)
	assert.Contains(t, p.body, "too many failed attempts")
}
