package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/webapp/internal/adapters/authclient"
	"github.com/oauth2ref/webapp/internal/adapters/httpapi"
	"github.com/oauth2ref/webapp/internal/adapters/resourceclient"
	"github.com/oauth2ref/webapp/internal/adapters/storage/memory"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
	"github.com/oauth2ref/webapp/internal/upstreamtest"
)

// The client as registered at the authserver; the secret needs
// form-urlencoding in the Basic header (RFC 6749 §2.3.1).
const (
	clientID     = "webapp.browser"
	clientSecret = "s&cr:t%"
	endedNotice  = "Your access was revoked or expired; sign in again"
)

// system is the webapp's pages, wired as in production (real use cases,
// authserver and resource clients, memory stores, the shared HTTP stack),
// in front of the real authserver, embedded, and a resource server that
// introspects at it, each behind a proxy that can fail.
type system struct {
	url      string
	as       *upstreamtest.AuthServer
	rs       *upstreamtest.ResourceServer
	clock    *storagetest.Clock
	sessions *memory.Sessions
	claims   *memory.LoginClaims
	logs     *observer.ObservedLogs
	upstream *upstreamTimeout
}

// Bounds on the webapp's calls upstream. Calls that must succeed get one no
// loaded machine reaches; a test about a hanging upstream sets the short
// one for just the call that must time out, and the proxy hangs far longer.
const (
	generous = 30 * time.Second
	short    = 200 * time.Millisecond
	// fast bounds a page that must not wait for a timeout: under the
	// generous one, over the short one with room for any load.
	fast = 10 * time.Second
)

// upstreamTimeout bounds each call of the webapp's upstream clients by a
// timeout the test can change between steps, which a client's own Timeout
// is not made for: signing in and healing need the generous one, the call
// to a hanging upstream the short one.
type upstreamTimeout struct{ d atomic.Int64 }

func newUpstreamTimeout() *upstreamTimeout {
	u := &upstreamTimeout{}
	u.set(generous)
	return u
}

func (u *upstreamTimeout) set(d time.Duration) { u.d.Store(int64(d)) }

// client is a client as run builds one, with each call bounded by u.
func (u *upstreamTimeout) client() *http.Client {
	c := httpclient.New(generous)
	c.Transport = boundedTransport{next: c.Transport, timeout: u}
	return c
}

type boundedTransport struct {
	next    http.RoundTripper
	timeout *upstreamTimeout
}

func (b boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(b.timeout.d.Load()))
	resp, err := b.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// cancelOnClose ends a call's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

type options struct {
	secure  bool
	key     []byte
	perUser int
	// shortTokens has the authserver issue access tokens that are due for
	// refresh as soon as they are issued.
	shortTokens bool
}

func newSystem(t *testing.T, opts ...func(*options)) *system {
	t.Helper()
	o := options{key: []byte(rand.Text() + rand.Text())}
	for _, f := range opts {
		f(&o)
	}
	ws := httptest.NewUnstartedServer(nil)
	base := "http://" + ws.Listener.Addr().String()
	redirect := base + "/callback"
	if o.secure {
		// Only the cookie flag follows from an https redirect URI; the test
		// server itself stays plain HTTP.
		redirect = "https://" + ws.Listener.Addr().String() + "/callback"
	}
	client := upstreamtest.Client{ID: clientID, Secret: clientSecret, RedirectURI: redirect}
	if o.shortTokens {
		client.AccessTTL = 10 * time.Second
	}
	as := upstreamtest.NewAuthServer(t, client)
	rs := upstreamtest.NewResourceServer(t, as)

	clock := storagetest.NewClock()
	upstream := newUpstreamTimeout()
	code := authclient.NewCodeClient(authclient.CodeConfig{
		AuthorizeURL: as.URL + "/oauth/authorize",
		TokenURL:     as.URL + "/oauth/token",
		RevokeURL:    as.URL + "/oauth/revoke",
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURL:  redirect,
		Scopes:       []string{"openid", "profile", "current_time", "epoch_time"},
		// Signing out goes on to the authserver's end_session endpoint.
		EndSessionURL:         as.URL + "/oauth/end_session",
		PostLogoutRedirectURL: upstreamtest.PostLogoutURI(client),
	}, upstream.client())
	identity := authclient.NewIdentity(authclient.IdentityConfig{
		Issuer: as.URL, ClientID: clientID, JWKSURL: as.URL + "/oauth/jwks.json", UserInfoURL: as.URL + "/oauth/userinfo",
	}, upstream.client())
	sessions := memory.NewSessions(memory.Options{Capacity: 100, PerUser: o.perUser, Now: clock.Now})
	claims := memory.NewLoginClaims(memory.Options{Capacity: 100, Now: clock.Now})
	browser := app.NewBrowser(app.BrowserDeps{
		Authorizer: code, Identity: identity, Renewer: code, Revoker: code,
		Times:      resourceclient.New(rs.URL, upstream.client()),
		Sessions:   sessions,
		Claims:     claims,
		Issuer:     as.URL,
		SessionTTL: time.Hour,
		Now:        clock.Now,
	})
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	pages, err := httpapi.NewPages(httpapi.PageDeps{Browser: browser, Log: log, CookieKey: o.key, SecureCookies: o.secure, ClientID: clientID,
		SignOutTarget: as.URL, Now: clock.Now})
	require.NoError(t, err)
	ws.Config.Handler = onStack(zapcore.DebugLevel, httpapi.Deps{Log: log, Pages: pages})
	ws.Start()
	t.Cleanup(ws.Close)
	return &system{url: base, as: as, rs: rs, clock: clock, sessions: sessions, claims: claims, logs: logs, upstream: upstream}
}

// browser is a user agent with a cookie jar that follows no redirect by
// itself, so each step can be inspected.
type browser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, jar: jar, c: &http.Client{
		Jar: jar, Timeout: time.Minute, // only against a hang
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// cookie is the jar's value of the named cookie for the webapp's path.
func (b *browser) cookie(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	require.NoError(b.t, err)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// authorize starts a sign-in, and at the authserver signs in as alice (if
// this browser has not yet) and allows the webapp in (if she has not yet);
// it returns the callback URL the authserver sent the browser to.
func (s *system) authorize(t *testing.T, b *browser) string {
	t.Helper()
	return s.authorizeAs(t, b, upstreamtest.Alice, "allow")
}

// authorizeAs is authorize as user u, answering the consent page, if it
// is shown, with decision.
func (s *system) authorizeAs(t *testing.T, b *browser, u upstreamtest.User, decision string) string {
	t.Helper()
	resp, _ := b.get(s.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	return s.as.Authorize(t, b.c, resp.Header.Get("Location"), u, decision)
}

// signIn runs the whole sign-in as alice and returns the new session
// cookie.
func (s *system) signIn(t *testing.T, b *browser) string {
	t.Helper()
	return s.signInAs(t, b, upstreamtest.Alice)
}

// signInAs is signIn as user u.
func (s *system) signInAs(t *testing.T, b *browser, u upstreamtest.User) string {
	t.Helper()
	resp, _ := b.get(s.authorizeAs(t, b, u, "allow"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"))
	id := b.cookie(s.url+"/", "webapp_session")
	require.NotEmpty(t, id)
	return id
}

// signInDue is signIn, after which, if due, the session's access token is
// due for refresh: the next page refreshes first.
func (s *system) signInDue(t *testing.T, b *browser, due bool) string {
	t.Helper()
	id := s.signIn(t, b)
	if due {
		s.expireAccessToken(t, id)
	}
	return id
}

// expireAccessToken makes the session's access token due for refresh.
func (s *system) expireAccessToken(t *testing.T, sessionID string) {
	t.Helper()
	_, err := s.sessions.Update(t.Context(), domain.Secret(sessionID), func(sess *domain.Session) error {
		sess.Tokens.Expiry = time.Now().Add(-time.Minute)
		return nil
	})
	require.NoError(t, err)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	require.Len(t, m, 2, "the page has a CSRF field:\n%s", body)
	return m[1]
}

func assertSignedIn(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "2026-11-23T13:45:00Z", "current time shown")
	assert.Contains(t, body, "1795441500", "epoch time shown")
	assert.Contains(t, body, `<form method="post" action="/logout">`)
	assert.Contains(t, body, "Sign out")
	assert.NotContains(t, body, "Sign in with authserver")
}

func assertSignedOut(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `<a class="button" href="/login">Sign in with authserver</a>`)
	assert.NotContains(t, body, "Sign out")
	assert.NotContains(t, body, "2026-11-23T13:45:00Z")
}

// assertOpensNothing checks that a session cookie, replayed by another
// browser, is signed out.
func (s *system) assertOpensNothing(t *testing.T, sessionID string) {
	t.Helper()
	other := newBrowser(t)
	u, err := url.Parse(s.url + "/")
	require.NoError(t, err)
	other.jar.SetCookies(u, []*http.Cookie{{Name: "webapp_session", Value: sessionID, Path: "/"}})
	resp, body := other.get(s.url + "/")
	assertSignedOut(t, resp, body)
}

func assertPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	// Forms lead to the webapp itself, and the sign-out form on to the
	// authserver's end_session endpoint.
	assert.Regexp(t, `^default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' http://127\.0\.0\.1:[0-9]+; frame-ancestors 'none'; base-uri 'none'$`,
		resp.Header.Get("Content-Security-Policy"), "on %s %s", resp.Request.Method, resp.Request.URL.Path)
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		assert.Equal(t, v, resp.Header.Get(k), "%s on %s %s (%d)", k, resp.Request.Method, resp.Request.URL.Path, resp.StatusCode)
	}
	if resp.StatusCode < 300 || resp.StatusCode >= 400 {
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), resp.Request.URL.Path)
	}
}

// setCookie is the response's Set-Cookie for name, or nil.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInFlow(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)

	// Signed out.
	resp, body := b.get(s.url + "/")
	assertSignedOut(t, resp, body)
	assert.Contains(t, body, `<link rel="stylesheet" href="/static/style.css">`)
	assertPageHeaders(t, resp)

	// /login: a sign-in attempt in a cookie, and off to the authserver.
	resp, _ = b.get(s.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assertPageHeaders(t, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, s.as.URL+"/oauth/authorize", loc.Scheme+"://"+loc.Host+loc.Path)
	q := loc.Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, clientID, q.Get("client_id"))
	assert.Equal(t, s.url+"/callback", q.Get("redirect_uri"))
	assert.Equal(t, "openid profile current_time epoch_time", q.Get("scope"), "OpenID Connect")
	assert.GreaterOrEqual(t, len(q.Get("nonce")), 26, "with a nonce")
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43, "base64url SHA-256")
	assert.GreaterOrEqual(t, len(q.Get("state")), 26, "at least 128 bits of base32")
	assert.NotContains(t, q, "code_verifier", "the verifier never leaves the server before the exchange")
	assert.NotContains(t, q, "client_secret")
	login := setCookie(resp, "webapp_login")
	require.NotNil(t, login)
	assert.True(t, login.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, login.SameSite)
	assert.False(t, login.Secure, "plain http base URL")
	assert.Equal(t, "/callback", login.Path)
	assert.Equal(t, 600, login.MaxAge)
	assert.NotContains(t, loc.RawQuery, login.Value, "the cookie is not the state")

	// Signed in at the authserver and allowed in, the browser is sent
	// back to the callback.
	cb, err := url.Parse(s.as.Authorize(t, b.c, loc.String(), upstreamtest.Alice, "allow"))
	require.NoError(t, err)
	assert.Equal(t, s.url+"/callback", cb.Scheme+"://"+cb.Host+cb.Path)
	assert.Equal(t, q.Get("state"), cb.Query().Get("state"))
	assert.Equal(t, s.as.URL, cb.Query().Get("iss"))

	resp, body = b.get(cb.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertPageHeaders(t, resp)
	sess := setCookie(resp, "webapp_session")
	require.NotNil(t, sess)
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	assert.Equal(t, "/", sess.Path)
	assert.Equal(t, 3600, sess.MaxAge)
	assert.NotEqual(t, login.Value, sess.Value)
	cleared := setCookie(resp, "webapp_login")
	require.NotNil(t, cleared, "the sign-in attempt's cookie is cleared")
	assert.Equal(t, -1, cleared.MaxAge)
	assert.Equal(t, 1, s.as.CodeExchanges())

	// Signed in, and greeted by name (UserInfo's).
	resp, body = b.get(s.url + "/")
	assertSignedIn(t, resp, body)
	assert.Contains(t, body, "Hello, Alice Example.")
	assertPageHeaders(t, resp)
	issued := s.as.Issued()
	require.Len(t, issued, 1)
	at := issued[0].AccessToken
	assert.Equal(t, []string{at, at}, s.rs.Tokens(), "both times read with the access token")

	// Nothing secret in any log line.
	secrets := map[string]string{"client secret": clientSecret, "session id": sess.Value, "code": cb.Query().Get("code"),
		"access token": at, "refresh token": issued[0].RefreshToken, "ID token": issued[0].IDToken, "nonce": q.Get("nonce")}
	for _, e := range s.logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for what, secret := range secrets {
			assert.NotContains(t, line, secret, "no %s in the logs", what)
		}
	}
}

func TestStyleSheet(t *testing.T) {
	s := newSystem(t)
	resp, body := newBrowser(t).get(s.url + "/static/style.css")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, body, ".button")

	for _, path := range []string{"/static/", "/static", "/static/nope.css"} {
		resp, body := newBrowser(t).get(s.url + path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.NotContains(t, body, "style.css", "%s lists no directory", path)
	}
}

// Every sign-in gets a new session id: one planted in the browser before
// (session fixation) or the browser's previous session is worthless after.
func TestSignInRotatesTheSessionCookie(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	u, _ := url.Parse(s.url + "/")
	b.jar.SetCookies(u, []*http.Cookie{{Name: "webapp_session", Value: "planted-by-attacker", Path: "/"}})

	first := s.signIn(t, b)
	assert.NotEqual(t, "planted-by-attacker", first)
	second := s.signIn(t, b)
	assert.NotEqual(t, first, second)
	assert.Equal(t, 1, s.sessions.Len(), "the previous session was ended")

	s.assertOpensNothing(t, first)
	resp, body := b.get(s.url + "/")
	assertSignedIn(t, resp, body)
}

func TestCallbackRefusals(t *testing.T) {
	cases := []struct {
		name string
		// edit changes the callback URL's query, or the browser, before
		// the callback is followed.
		edit     func(s *system, q url.Values, b *browser) *browser
		signedIn bool // a session from before the refusal survives it
		detail   string
	}{
		{name: "state mismatch", detail: "its state does not match",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Set("state", "attacker-state"); return b }},
		{name: "state missing", detail: "its state does not match",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Del("state"); return b }},
		{name: "state repeated", detail: "repeats its state parameter",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Add("state", q.Get("state")); return b }},
		{name: "iss missing", detail: "no iss parameter",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Del("iss"); return b }},
		{name: "iss of another server", detail: "its iss does not match",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Set("iss", "https://evil.example"); return b }},
		{name: "iss not exactly equal", detail: "its iss does not match",
			edit: func(s *system, q url.Values, b *browser) *browser { q.Set("iss", s.as.URL+"/"); return b }},
		{name: "no code", detail: "neither a code nor an error",
			edit: func(_ *system, q url.Values, b *browser) *browser { q.Del("code"); return b }},
		{name: "another browser (no sign-in cookie)", detail: "no sign-in in progress",
			edit: func(_ *system, _ url.Values, b *browser) *browser { return newBrowser(b.t) }},
		{name: "sign-in cookie altered", detail: "no sign-in in progress",
			edit: func(s *system, _ url.Values, b *browser) *browser {
				cb, _ := url.Parse(s.url + "/callback")
				v := []byte(b.cookie(cb.String(), "webapp_login"))
				v[len(v)/2] ^= 1
				b.jar.SetCookies(cb, []*http.Cookie{{Name: "webapp_login", Value: string(v), Path: "/callback"}})
				return b
			}},
		{name: "sign-in cookie sealed by a webapp with another key", detail: "no sign-in in progress",
			edit: func(s *system, _ url.Values, b *browser) *browser {
				other := newSystem(b.t)
				cb, _ := url.Parse(s.url + "/callback")
				resp, _ := b.get(other.url + "/login") // same host: the jar shares cookies across ports
				require.Equal(b.t, http.StatusFound, resp.StatusCode)
				require.NotEmpty(b.t, b.cookie(cb.String(), "webapp_login"))
				return b
			}},
		{name: "expired after 10 minutes", detail: "no sign-in in progress",
			edit: func(s *system, _ url.Values, b *browser) *browser { s.clock.Advance(10 * time.Minute); return b }},
		{name: "replayed with the sign-in cookie put back", detail: "no sign-in in progress", signedIn: true,
			edit: func(s *system, q url.Values, b *browser) *browser {
				cb, _ := url.Parse(s.url + "/callback")
				attempt := b.cookie(cb.String(), "webapp_login")
				require.NotEmpty(b.t, attempt)
				cb.RawQuery = q.Encode()
				resp, _ := b.get(cb.String())
				require.Equal(b.t, http.StatusSeeOther, resp.StatusCode, "the first use works")
				b.jar.SetCookies(cb, []*http.Cookie{{Name: "webapp_login", Value: attempt, Path: "/callback"}})
				return b
			}},
		{name: "replayed", detail: "no sign-in in progress", signedIn: true,
			edit: func(s *system, q url.Values, b *browser) *browser {
				u, _ := url.Parse(s.url + "/callback")
				u.RawQuery = q.Encode()
				resp, _ := b.get(u.String())
				require.Equal(b.t, http.StatusSeeOther, resp.StatusCode, "the first use works")
				return b
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			cb, err := url.Parse(s.authorize(t, b))
			require.NoError(t, err)
			q := cb.Query()
			b = tc.edit(s, q, b)
			exchanges := s.as.CodeExchanges()
			cb.RawQuery = q.Encode()

			resp, body := b.get(cb.String())

			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assertPageHeaders(t, resp)
			assert.Contains(t, body, "Sign-in failed")
			assert.Contains(t, body, tc.detail)
			assert.Contains(t, body, `href="/login">Sign in again</a>`)
			assert.Equal(t, exchanges, s.as.CodeExchanges(), "the code was not redeemed")
			if c := setCookie(resp, "webapp_session"); c != nil {
				assert.Empty(t, c.Value, "no session was started")
			}
			resp, body = b.get(s.url + "/")
			if tc.signedIn {
				assertSignedIn(t, resp, body)
			} else {
				assertSignedOut(t, resp, body)
			}
		})
	}
}

// The sign-in cookie holds the attempt sealed: the state is not readable
// in it, and nothing about the sign-in is kept on the server, so however
// many sign-ins anyone starts, every other one still completes.
func TestSignInsInProgressCostTheServerNothing(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	cb, err := url.Parse(s.authorize(t, b))
	require.NoError(t, err)
	sealed := b.cookie(s.url+"/callback", "webapp_login")
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	require.NoError(t, err, "base64url")
	state := cb.Query().Get("state")
	assert.NotContains(t, sealed, state)
	assert.NotContains(t, string(raw), state, "encrypted, not just encoded")

	flood := newBrowser(t)
	for range 2000 {
		resp, _ := flood.get(s.url + "/login")
		require.Equal(t, http.StatusFound, resp.StatusCode)
	}
	assert.Zero(t, s.claims.Len())
	assert.Zero(t, s.sessions.Len())

	resp, _ := b.get(cb.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the sign-in started before the flood completes")
	resp, body := b.get(s.url + "/")
	assertSignedIn(t, resp, body)
}

// One account cannot take the webapp's sessions from everyone else: its
// oldest sessions make way for its newest, their grants revoked, and other
// users still sign in.
func TestOneUserCannotFillTheSessionStore(t *testing.T) {
	s := newSystem(t, func(o *options) { o.perUser = 3 })
	var first *browser
	for i := range 120 { // more than the store's 100
		b := newBrowser(t)
		s.signInAs(t, b, upstreamtest.Mallory)
		if i == 0 {
			first = b
		}
	}
	assert.Equal(t, 3, s.sessions.Len())
	assert.Len(t, s.as.Revocations(), 117, "each evicted session's refresh token was revoked")
	assert.Equal(t, upstreamtest.Revocation{Token: s.as.Issued()[0].RefreshToken, Hint: "refresh_token"}, s.as.Revocations()[0], "the oldest first")
	assert.Equal(t, 117, s.logs.FilterMessage("the user's oldest sessions were ended to keep within the per-user cap").Len())
	resp, body := first.get(s.url + "/")
	assertSignedOut(t, resp, body)

	alice := newBrowser(t)
	s.signIn(t, alice)
	resp, body = alice.get(s.url + "/")
	assertSignedIn(t, resp, body)
}

// return_to brings the browser back to a page of the webapp after signing
// in, and never anywhere else.
func TestReturnTo(t *testing.T) {
	cases := []struct{ returnTo, want string }{
		{"", "/"},
		{"/", "/"},
		{"/page?x=1&y=%2F", "/page?x=1&y=%2F"},
		{"//evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/a\tb", "/"},
		{"/login", "/"},
		{"/login?return_to=/login", "/"},
		{"/./callback", "/"},
		{"/" + strings.Repeat("a", 600), "/"},
	}
	for _, tc := range cases {
		t.Run(tc.returnTo, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			resp, _ := b.get(s.url + "/login?" + url.Values{"return_to": {tc.returnTo}}.Encode())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp, _ = b.get(s.as.Authorize(t, b.c, resp.Header.Get("Location"), upstreamtest.Alice, "allow"))
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Equal(t, tc.want, resp.Header.Get("Location"))
		})
	}
}

// An error answer still has to belong to this browser's sign-in: its state
// and iss are checked before it is shown. The user's refusal is real (Deny
// on the consent page); the other errors, which the authserver could send,
// are put in its answer in place of the code.
func TestCallbackErrorAnswers(t *testing.T) {
	cases := []struct {
		name              string
		deny              bool // the user denies; else code and description replace the code
		code, description string
		edit              func(q url.Values)
		status            int
		want              []string
		notWant           []string
	}{
		{name: "user cancelled", deny: true,
			status: http.StatusOK, want: []string{"Sign-in cancelled", "Sign-in was cancelled", `href="/login">Sign in again</a>`}},
		{name: "refused, upstream text escaped", code: "<script>alert(1)</script>", description: `<img src=x onerror=alert(1)> & "more"`,
			status:  http.StatusBadRequest,
			want:    []string{"Sign-in failed", "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt; &amp; more"},
			notWant: []string{"<script", "<img"}},
		{name: "server error", code: "server_error", status: http.StatusBadRequest,
			want: []string{"Sign-in failed", "the authserver refused the sign-in (server_error)"}},
		{name: "cancelled, but for another browser's state", deny: true,
			edit:   func(q url.Values) { q.Set("state", "x") },
			status: http.StatusBadRequest, want: []string{"Sign-in failed", "its state does not match"}, notWant: []string{"cancelled"}},
		{name: "cancelled, but without iss", deny: true,
			edit:   func(q url.Values) { q.Del("iss") },
			status: http.StatusBadRequest, want: []string{"Sign-in failed", "no iss parameter"}, notWant: []string{"cancelled"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			decision := "allow"
			if tc.deny {
				decision = "deny"
			}
			cb, err := url.Parse(s.authorizeAs(t, b, upstreamtest.Alice, decision))
			require.NoError(t, err)
			q := cb.Query()
			if tc.deny {
				require.Equal(t, "access_denied", q.Get("error"))
			} else {
				q.Del("code")
				q.Set("error", tc.code)
				q.Set("error_description", tc.description)
			}
			if tc.edit != nil {
				tc.edit(q)
			}
			cb.RawQuery = q.Encode()

			resp, body := b.get(cb.String())
			assert.Equal(t, tc.status, resp.StatusCode)
			assertPageHeaders(t, resp)
			for _, w := range tc.want {
				assert.Contains(t, body, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, body, w)
			}
			assert.Zero(t, s.as.CodeExchanges())
			resp, body = b.get(s.url + "/")
			assertSignedOut(t, resp, body)
		})
	}
}

// The authserver rotates refresh tokens: each refresh must present the
// token the previous one returned.
func TestExpiredAccessTokenIsRefreshedWithTheRotatedToken(t *testing.T) {
	s := newSystem(t, func(o *options) { o.shortTokens = true }) // due for refresh at once
	b := newBrowser(t)
	s.signIn(t, b)

	for range 3 {
		resp, body := b.get(s.url + "/")
		assertSignedIn(t, resp, body)
	}
	issued := s.as.Issued()
	require.Len(t, issued, 4, "the sign-in's tokens, then three refreshes'")
	assert.Equal(t, []string{issued[0].RefreshToken, issued[1].RefreshToken, issued[2].RefreshToken}, s.as.Presented(),
		"each refresh presents the newest refresh token")
	assert.Zero(t, s.as.RefusedRefreshes())
	assert.Equal(t, []string{issued[1].AccessToken, issued[1].AccessToken, issued[2].AccessToken, issued[2].AccessToken,
		issued[3].AccessToken, issued[3].AccessToken}, s.rs.Tokens(), "the new access token is used")
}

// Page loads that find the access token expired at the same time refresh
// it once: a second presentation of the same refresh token would make the
// authserver revoke the whole grant.
func TestConcurrentPageLoadsRefreshOnce(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	s.signInDue(t, b, true)
	s.as.SetDelay(100 * time.Millisecond) // the refreshes overlap

	const n = 8
	type page struct {
		resp *http.Response
		body string
	}
	pages := make([]page, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, body := b.get(s.url + "/")
			pages[i] = page{resp, body}
		})
	}
	wg.Wait()

	assert.Equal(t, []string{s.as.Issued()[0].RefreshToken}, s.as.Presented(), "one refresh, the old refresh token presented once")
	assert.Zero(t, s.as.RefusedRefreshes())
	for _, p := range pages {
		assertSignedIn(t, p.resp, p.body)
	}
	resp, body := b.get(s.url + "/")
	assertSignedIn(t, resp, body)
	assert.Len(t, s.as.Presented(), 1, "the new token is still valid: no further refresh")
}

func TestRevokedGrantEndsTheSession(t *testing.T) {
	cases := []struct {
		name    string
		refresh bool // the page needs a refresh first
	}{
		{"resource server answers 401", false},
		{"refresh refused with invalid_grant", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			id := s.signInDue(t, b, tc.refresh)
			// The user revokes the grant on the authserver's account page.
			s.as.RevokeGrant(t, b.c, clientID)

			resp, body := b.get(s.url + "/")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "a page, not an error")
			assertPageHeaders(t, resp)
			assert.Contains(t, body, endedNotice)
			assert.Contains(t, body, "Sign in with authserver")
			assert.NotContains(t, body, "Sign out")
			c := setCookie(resp, "webapp_session")
			require.NotNil(t, c, "the session cookie is cleared")
			assert.Equal(t, -1, c.MaxAge)
			assert.Zero(t, s.sessions.Len(), "the session is gone from the store")
			if tc.refresh {
				assert.Equal(t, []string{s.as.Issued()[0].RefreshToken}, s.as.Presented())
				assert.Equal(t, 1, s.as.RefusedRefreshes())
			} else {
				assert.Empty(t, s.as.Presented())
			}

			resp, body = b.get(s.url + "/")
			assertSignedOut(t, resp, body)
			assert.NotContains(t, body, endedNotice, "the notice is shown once")

			// The old cookie, replayed, is nothing.
			s.assertOpensNothing(t, id)
		})
	}
}

func TestSessionExpires(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	s.signIn(t, b)
	s.clock.Advance(time.Hour)
	resp, body := b.get(s.url + "/")
	assertSignedOut(t, resp, body)
	c := setCookie(resp, "webapp_session")
	require.NotNil(t, c)
	assert.Equal(t, -1, c.MaxAge, "the stale cookie is cleared")
}

func TestLogoutNeedsTheSessionsCSRFToken(t *testing.T) {
	cases := []struct {
		name string
		form func(own, other string) url.Values
	}{
		{"no token", func(string, string) url.Values { return url.Values{} }},
		{"empty token", func(string, string) url.Values { return url.Values{"csrf_token": {""}} }},
		{"wrong token", func(own, _ string) url.Values { return url.Values{"csrf_token": {own + "x"}} }},
		{"another session's token", func(_, other string) url.Values { return url.Values{"csrf_token": {other}} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b, other := newBrowser(t), newBrowser(t)
			s.signIn(t, b)
			s.signIn(t, other)
			_, body := b.get(s.url + "/")
			own := csrfOf(t, body)
			_, body = other.get(s.url + "/")
			require.NotEqual(t, own, csrfOf(t, body), "tokens are per session")

			resp, body := b.post(s.url+"/logout", tc.form(own, csrfOf(t, body)))
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assertPageHeaders(t, resp)
			assert.Contains(t, body, "Request refused")
			assert.Empty(t, s.as.Revocations(), "nothing revoked")
			resp, body = b.get(s.url + "/")
			assertSignedIn(t, resp, body)
		})
	}
}

// TestLogoutFromAnotherOriginIsRefused: even with the session's token, a
// POST the browser marks as coming from another origin is refused.
func TestLogoutFromAnotherOriginIsRefused(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	s.signIn(t, b)
	_, body := b.get(s.url + "/")
	token := csrfOf(t, body)
	for name, h := range map[string]map[string]string{
		"another site":               {"Sec-Fetch-Site": "cross-site"},
		"another origin of the site": {"Sec-Fetch-Site": "same-site"},
		"an Origin of another host":  {"Origin": "https://evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.url+"/logout", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, body := b.do(req)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assertPageHeaders(t, resp)
			assert.Contains(t, body, "did not come from this site")
			resp, body = b.get(s.url + "/")
			assertSignedIn(t, resp, body)
		})
	}
	assert.Empty(t, s.as.Revocations(), "nothing revoked")
}

func TestLogout(t *testing.T) {
	cases := []struct {
		name    string
		fault   upstreamtest.Fault
		wantLog string
	}{
		{"revocation works", upstreamtest.Healthy, ""},
		{"revocation fails, sign-out still happens", upstreamtest.Unavailable, "refresh token revocation failed; the session is cleared anyway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			id := s.signInDue(t, b, true)
			_, body := b.get(s.url + "/") // refreshes: the first refresh token is spent, the second current
			csrf := csrfOf(t, body)
			current := s.as.Issued()[1]
			s.as.SetFault(tc.fault)

			resp, _ := b.post(s.url+"/logout", url.Values{"csrf_token": {csrf}})
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			endSession, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, s.as.URL+"/oauth/end_session", endSession.Scheme+"://"+endSession.Host+endSession.Path,
				"on to the authserver, to sign out there too (RP-Initiated Logout)")
			assert.Equal(t, url.Values{"id_token_hint": {current.IDToken}, "client_id": {clientID},
				"post_logout_redirect_uri": {s.url + "/"}}, endSession.Query(), "named by the latest ID token")
			assertPageHeaders(t, resp)
			c := setCookie(resp, "webapp_session")
			require.NotNil(t, c)
			assert.Equal(t, -1, c.MaxAge)
			assert.Zero(t, s.sessions.Len())
			if tc.wantLog == "" {
				assert.Equal(t, []upstreamtest.Revocation{{Token: current.RefreshToken, Hint: "refresh_token"}}, s.as.Revocations(),
					"the current refresh token is revoked, with the client's credentials")
				assert.False(t, s.as.Active(t, current.AccessToken), "which ends the grant")
			} else {
				assert.Equal(t, 1, s.logs.FilterMessage(tc.wantLog).Len(), "the failure is logged")
			}

			s.as.SetFault(upstreamtest.Healthy)
			resp, body = b.get(s.url + "/")
			assertSignedOut(t, resp, body)
			s.assertOpensNothing(t, id)

			// At the authserver: asked, signed out there, and back home.
			back := s.as.EndSession(t, b.c, endSession.String(), "logout")
			assert.Equal(t, s.url+"/", back)
			resp, body = b.get(back)
			assertSignedOut(t, resp, body)
			assert.False(t, s.as.SignedIn(t, b.c), "the authserver's session has ended too")
		})
	}
}

func TestLogoutWithoutASession(t *testing.T) {
	s := newSystem(t)
	resp, _ := newBrowser(t).post(s.url+"/logout", url.Values{})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "nothing to end")
	assert.Empty(t, s.as.Revocations())
}

func TestUpstreamFailuresShowOnThePage(t *testing.T) {
	cases := []struct {
		name    string
		refresh bool // the page needs a refresh first
		fail    func(s *system)
		heal    func(s *system) // nil: it stays down
		status  int
		want    string
	}{
		{"resource server unavailable", false, func(s *system) { s.rs.SetFault(upstreamtest.Unavailable) },
			func(s *system) { s.rs.SetFault(upstreamtest.Healthy) }, 503, "The resourceserver is unavailable right now"},
		{"resource server hangs", false, func(s *system) { s.rs.SetFault(upstreamtest.Hang); s.upstream.set(short) },
			func(s *system) { s.rs.SetFault(upstreamtest.Healthy); s.upstream.set(generous) }, 503, "The resourceserver is unavailable right now"},
		{"resource server down", false, func(s *system) { s.rs.Close() },
			nil, 503, "The resourceserver is unavailable right now"},
		{"authserver unavailable for the refresh", true, func(s *system) { s.as.SetFault(upstreamtest.Unavailable) },
			func(s *system) { s.as.SetFault(upstreamtest.Healthy) }, 503, "The authserver is unavailable right now"},
		{"authserver hangs on the refresh", true, func(s *system) { s.as.SetFault(upstreamtest.Hang); s.upstream.set(short) },
			func(s *system) { s.as.SetFault(upstreamtest.Healthy); s.upstream.set(generous) }, 503, "The authserver is unavailable right now"},
		{"authserver down for the refresh", true, func(s *system) { s.as.Close() },
			nil, 503, "The authserver is unavailable right now"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			b := newBrowser(t)
			s.signInDue(t, b, tc.refresh)
			tc.fail(s)

			start := time.Now()
			resp, body := b.get(s.url + "/")
			assert.Less(t, time.Since(start), fast, "fails fast, never hangs")
			assert.Equal(t, tc.status, resp.StatusCode)
			assertPageHeaders(t, resp)
			assert.Contains(t, body, tc.want)
			assert.Contains(t, body, "Sign out", "still signed in")
			assert.NotContains(t, body, endedNotice)
			assert.Nil(t, setCookie(resp, "webapp_session"), "the session is kept")
			assert.Equal(t, 1, s.sessions.Len())

			if tc.heal != nil {
				tc.heal(s)
				resp, body = b.get(s.url + "/")
				assertSignedIn(t, resp, body)
			}
		})
	}
}

func TestAuthserverDownAtSignIn(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	cb := s.authorize(t, b)
	s.as.SetFault(upstreamtest.Unavailable)
	resp, body := b.get(cb)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assertPageHeaders(t, resp)
	assert.Contains(t, body, "The authserver is unavailable right now")
}

// Under https the cookies are Secure and carry the prefix browsers enforce
// (webpage.Cookies), and they are read back under it.
func TestCookiesAreSecureUnderHTTPS(t *testing.T) {
	s := newSystem(t, func(o *options) { o.secure = true })
	b := newBrowser(t)
	resp, _ := b.get(s.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	login := setCookie(resp, "__Secure-webapp_login")
	require.NotNil(t, login, "Secure, at /callback: __Secure-, since __Host- needs Path=/")
	assert.True(t, login.Secure)
	assert.True(t, login.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, login.SameSite)
	assert.Equal(t, "/callback", login.Path)

	// The test server is plain http, where the jar sends no Secure cookie:
	// the callback goes as a browser would send it over https.
	cb, err := url.Parse(s.as.Authorize(t, b.c, resp.Header.Get("Location"), upstreamtest.Alice, "allow"))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, s.url+"/callback?"+cb.RawQuery, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: login.Name, Value: login.Value})
	resp, body := b.do(req)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	sess := setCookie(resp, "__Host-webapp_session")
	require.NotNil(t, sess, "Secure, at /: __Host-")
	assert.True(t, sess.Secure)
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, "/", sess.Path)
}

// A form larger than the body limit is refused with a page.
func TestLogoutFormTooLarge(t *testing.T) {
	s := newSystem(t)
	b := newBrowser(t)
	s.signIn(t, b)
	resp, _ := b.post(s.url+"/logout", url.Values{"csrf_token": {strings.Repeat("x", 2<<10)}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assertPageHeaders(t, resp)
	resp, body := b.get(s.url + "/")
	assertSignedIn(t, resp, body)
}
