package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service/servicetest"
	"github.com/oauth2ref/webapp/internal/upstreamtest"
)

// upstreams are the real authserver, embedded, and a resource server that
// introspects at it, for a webapp that will serve on addr; env is the
// webapp's configuration for them.
func upstreams(t *testing.T, addr string, accessTTL time.Duration) (*upstreamtest.AuthServer, map[string]string) {
	t.Helper()
	redirect := "http://" + addr + "/callback"
	as := upstreamtest.NewAuthServer(t, upstreamtest.Client{ID: "webapp-browser", Secret: "webapp-browser-secret",
		RedirectURI: redirect, AccessTTL: accessTTL})
	rs := upstreamtest.NewResourceServer(t, as)
	return as, map[string]string{
		"WEBAPP_HTTP_ADDR":                        addr,
		"WEBAPP_AUTHSERVER_TOKEN_URL":             as.URL + "/oauth/token",
		"WEBAPP_RESOURCESERVER_BASE_URL":          rs.URL,
		"WEBAPP_BROWSER_AUTHORIZE_URL":            as.URL + "/oauth/authorize",
		"WEBAPP_BROWSER_REVOKE_URL":               as.URL + "/oauth/revoke",
		"WEBAPP_BROWSER_JWKS_URL":                 as.URL + "/oauth/jwks.json",
		"WEBAPP_BROWSER_USERINFO_URL":             as.URL + "/oauth/userinfo",
		"WEBAPP_BROWSER_END_SESSION_URL":          as.URL + "/oauth/end_session",
		"WEBAPP_BROWSER_POST_LOGOUT_REDIRECT_URL": "http://" + addr + "/",
		"WEBAPP_BROWSER_ISSUER":                   as.URL,
		"WEBAPP_BROWSER_REDIRECT_URL":             redirect,
	}
}

// The browser demo as run wires it from config: sign in at the authserver,
// read both times, sign out.
func TestRunServesTheBrowserDemo(t *testing.T) {
	// The redirect URI names the webapp's address before it starts.
	ln := servicetest.Listen(t)
	as, env := upstreams(t, ln.Addr().String(), 0)
	s := startOn(t, ln, env)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: servicetest.Bound, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	resp, body := get(s.url + "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Sign in with authserver")
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))

	// /login -> the authserver's login and consent pages -> callback -> home.
	resp, _ = get(s.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	resp, body = get(as.Authorize(t, c, resp.Header.Get("Location"), upstreamtest.Alice, "allow"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	resp, body = get(s.url + resp.Header.Get("Location"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "2026-11-23T13:45:00Z")
	assert.Contains(t, body, "1795441500")
	q := as.AuthorizeRequests()[0]
	assert.Equal(t, "webapp-browser", q.Get("client_id"))
	assert.Equal(t, "openid profile current_time epoch_time", q.Get("scope"))
	assert.Contains(t, body, "Hello, Alice Example.", "the ID token verified and UserInfo read, as configured")

	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	require.Len(t, m, 2)
	resp, err = c.PostForm(s.url+"/logout", url.Values{"csrf_token": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	issued := as.Issued()
	require.Len(t, issued, 1)
	assert.Equal(t, []upstreamtest.Revocation{{Token: issued[0].RefreshToken, Hint: "refresh_token"}}, as.Revocations())

	assert.NotContains(t, s.logs.String(), "webapp-browser-secret", "no client secret in the logs")
	assert.NotContains(t, s.logs.String(), issued[0].RefreshToken, "no token in the logs")
	assert.NotContains(t, s.logs.String(), issued[0].AccessToken, "no token in the logs")

	// HEAD wherever GET is served. /login starts a new sign-in each time,
	// to a new state in the Location.
	noRedirect := &http.Client{Timeout: servicetest.Bound, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/", "/login", "/callback", "/static/style.css"} {
		servertest.HeadLikeGet(t, noRedirect, func(method string) *http.Request {
			req, _ := http.NewRequestWithContext(t.Context(), method, s.url+path, nil)
			return req
		}, "Location")
	}
}

func TestRunBrowserPagesOffWithoutASecret(t *testing.T) {
	s := start(t, map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret"})
	resp, _ := get(t, s.url+"/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "production ships no browser secret: the pages are off")
	assert.Contains(t, s.logs.String(), "browser pages off")

	s = start(t, map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret",
		"WEBAPP_BROWSER_CLIENT_SECRET": "another-real-secret", "WEBAPP_BROWSER_COOKIE_KEY": testCookieKey})
	resp, body := get(t, s.url+"/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Sign in with authserver")
	assert.NotContains(t, s.logs.String(), "another-real-secret")
	assert.NotContains(t, s.logs.String(), testCookieKey)
	assert.NotContains(t, s.logs.String(), "cookie_key is empty")
}

// A Redis that is down at start does not stop the webapp: what needs no
// session works, what does answers a fast 503 naming the session store.
func TestRunWithRedisDown(t *testing.T) {
	ln := servicetest.Listen(t)
	as, env := upstreams(t, ln.Addr().String(), 0)
	env["WEBAPP_REDIS_URL"] = "redis://:redis-pw@127.0.0.1:1/0"
	env["WEBAPP_REDIS_TIMEOUT"] = "200ms"
	s := startOn(t, ln, env)
	assert.Contains(t, s.logs.String(), "the session store (Redis) does not answer")
	assert.NotContains(t, s.logs.String(), "redis-pw")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.url + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "signed out needs no store")

	resp, err = c.Get(s.url + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "starting the sign-in needs no store")
	callback := as.Authorize(t, c, resp.Header.Get("Location"), upstreamtest.Alice, "allow")

	start := time.Now()
	resp, err = c.Get(callback) // completing it does
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Contains(t, string(body), "The session store is unavailable right now")
}

// testCookieKey is 32 bytes in base64.
const testCookieKey = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="

// Without a configured key a process seals sign-ins with a key of its own,
// and says that replicas need a shared one.
func TestRunMakesACookieKeyWhenNoneIsSet(t *testing.T) {
	s := start(t, nil)
	assert.Contains(t, s.logs.String(), "browser.cookie_key is empty")
	assert.Contains(t, s.logs.String(), "WEBAPP_BROWSER_COOKIE_KEY, the same on every replica")
}

func TestRunRefusesBadBrowserConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"production with the browser demo secret",
			map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret", "WEBAPP_BROWSER_CLIENT_SECRET": "webapp-browser-secret"},
			[]string{"browser.client_secret is the public demo secret", "WEBAPP_BROWSER_CLIENT_SECRET"}},
		{"authorize URL with a query",
			map[string]string{"WEBAPP_BROWSER_AUTHORIZE_URL": "http://localhost:5001/oauth/authorize?x=1"},
			[]string{"browser.authorize_url", "WEBAPP_BROWSER_AUTHORIZE_URL"}},
		{"revoke URL without a scheme",
			map[string]string{"WEBAPP_BROWSER_REVOKE_URL": "localhost:5001/oauth/revoke"},
			[]string{"browser.revoke_url"}},
		{"issuer with a fragment",
			map[string]string{"WEBAPP_BROWSER_ISSUER": "http://localhost:5001#x"},
			[]string{"browser.issuer"}},
		{"redirect URL elsewhere than /callback",
			map[string]string{"WEBAPP_BROWSER_REDIRECT_URL": "http://localhost:5003/oauth/callback"},
			[]string{"browser.redirect_url must have the path /callback"}},
		{"scope with a space",
			map[string]string{"WEBAPP_BROWSER_SCOPES": `["current_time epoch_time"]`},
			[]string{"browser.scopes"}},
		{"no scopes",
			map[string]string{"WEBAPP_BROWSER_SCOPES": `[]`},
			[]string{"browser.scopes"}},
		{"no openid among the scopes",
			map[string]string{"WEBAPP_BROWSER_SCOPES": `["current_time"]`},
			[]string{"browser.scopes must include openid"}},
		{"JWKS URL with a query",
			map[string]string{"WEBAPP_BROWSER_JWKS_URL": "http://localhost:5001/oauth/jwks.json?x=1"},
			[]string{"browser.jwks_url"}},
		{"empty client id",
			map[string]string{"WEBAPP_BROWSER": `{"client_id":""}`},
			[]string{"browser.client_id"}},
		{"zero session lifetime",
			map[string]string{"WEBAPP_BROWSER_SESSION_TTL": "0s"},
			[]string{"browser.session_ttl must be positive"}},
		{"production with the browser pages on and no cookie key",
			map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret", "WEBAPP_BROWSER_CLIENT_SECRET": "another-real-secret"},
			[]string{"browser.cookie_key is empty", "WEBAPP_BROWSER_COOKIE_KEY"}},
		{"cookie key too short",
			map[string]string{"WEBAPP_BROWSER_COOKIE_KEY": "c2hvcnQ="},
			[]string{"browser.cookie_key decodes to 5 bytes; it needs at least 32"}},
		{"cookie key not base64",
			map[string]string{"WEBAPP_BROWSER_COOKIE_KEY": "not base64 at all, but long enough to be a key?"},
			[]string{"browser.cookie_key is not base64"}},
		{"no room for sessions",
			map[string]string{"WEBAPP_BROWSER_MAX_SESSIONS": "0"},
			[]string{"browser.max_sessions", "WEBAPP_BROWSER_MAX_SESSIONS"}},
		{"no sessions per user",
			map[string]string{"WEBAPP_BROWSER_SESSIONS_PER_USER": "0"},
			[]string{"browser.sessions_per_user", "WEBAPP_BROWSER_SESSIONS_PER_USER"}},
		{"redis URL of another kind",
			map[string]string{"WEBAPP_REDIS_URL": "http://127.0.0.1:6379"},
			[]string{"redis.url", "WEBAPP_REDIS_URL"}},
		{"redis URL that does not parse",
			map[string]string{"WEBAPP_REDIS_URL": "redis://:pw@[::1"},
			[]string{"redis.url: redis: the URL cannot be parsed"}},
		{"zero redis timeout",
			map[string]string{"WEBAPP_REDIS_TIMEOUT": "0s"},
			[]string{"redis.timeout must be positive"}},
		{"lock lease no longer than a refresh may take",
			map[string]string{"WEBAPP_REDIS_URL": "redis://127.0.0.1:6379/0", "WEBAPP_REDIS_LOCK_LEASE": "2s", "WEBAPP_AUTHSERVER_TIMEOUT": "2s"},
			[]string{"redis.lock_lease must be longer than authserver.timeout"}},
		{"bad session lifetime",
			map[string]string{"WEBAPP_BROWSER_SESSION_TTL": "forever"},
			[]string{"browser.session_ttl", "WEBAPP_BROWSER_SESSION_TTL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test", "WEBAPP_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				vars[k] = v
			}
			var logs servertest.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, []string{"webapp"}, func(k string) string { return vars[k] }, &logs, io.Discard)
			require.Error(t, err, "run must refuse to start")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, listeningAddr(logs.String()), "nothing was served")
		})
	}
}
