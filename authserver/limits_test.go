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
)

// limited starts a server with small limits that believes X-Forwarded-For
// from the test's loopback peer, so a test can speak from any address.
func limited(t *testing.T) *testServer {
	return start(t,
		authserver.WithLoginLimits(authserver.LoginLimits{
			PerAccountSource: 3, PerAccount: 50, PerSource: 5, BaseDelay: time.Second, MaxDelay: time.Minute, Window: time.Hour,
		}),
		authserver.WithTrustedProxies("127.0.0.1", "::1"),
	)
}

// loginFrom submits the login form as b, from address from.
func loginFrom(t *testing.T, b *browser, from, username, password string) page {
	t.Helper()
	form := b.Get("/oauth/login")
	require.Equal(t, 200, form.Status)
	body := url.Values{"csrf_token": {csrfOf(t, form)}, "username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.URL("/oauth/login"), strings.NewReader(body.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", from)
	return b.Do(req)
}

// The login page slows guessing down and locks nobody out: not the owner
// from elsewhere, and not the owner's own browser behind the attacker's
// address (a NAT), which carries a known-device cookie.
func TestLoginPageThrottlesWithoutLockingOut(t *testing.T) {
	ts := limited(t)
	const nat, elsewhere = "198.51.100.1", "203.0.113.9"

	own := newBrowser(t, ts)
	first := loginFrom(t, own, nat, "Alice", "alice-password")
	require.Equal(t, 303, first.Status, first.Body)
	var device *http.Cookie
	for _, c := range first.Cookies() {
		if c.Name == "authserver_device" {
			device = c
		}
	}
	require.NotNil(t, device, "a known-device cookie after signing in")
	assert.True(t, device.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, device.SameSite)
	assert.Greater(t, device.MaxAge, 300*24*3600, "long-lived")

	attacker := newBrowser(t, ts)
	for range 3 {
		require.Equal(t, 401, loginFrom(t, attacker, nat, "alice", "guess").Status)
	}
	refused := loginFrom(t, attacker, nat, "alice", "guess")
	assert.Equal(t, 429, refused.Status)
	assert.Equal(t, "1", refused.Header.Get("Retry-After"))
	assert.Contains(t, refused.Body, "too many failed attempts")
	pageHeaders(t, refused)
	// Spraying other accounts from the NAT meets the per-source limit.
	for _, user := range []string{"bob", "carol"} {
		require.Equal(t, 401, loginFrom(t, attacker, nat, user, "guess").Status)
	}
	assert.Equal(t, 429, loginFrom(t, attacker, nat, "dave", "guess").Status)

	stranger := newBrowser(t, ts)
	assert.Equal(t, 429, loginFrom(t, stranger, nat, "alice", "alice-password").Status,
		"a browser alice never used, behind the NAT, waits")
	out := own.Get("/oauth/logout")
	require.Equal(t, 303, own.Post("/oauth/logout", url.Values{"csrf_token": {csrfOf(t, out)}}).Status)
	assert.Equal(t, 303, loginFrom(t, own, nat, "alice", "alice-password").Status,
		"alice's own browser does not")
	assert.Equal(t, 303, loginFrom(t, newBrowser(t, ts), elsewhere, "alice", "alice-password").Status,
		"nor does alice from another address")
}

// At the token endpoint a throttled password grant is invalid_grant and a
// throttled client authentication invalid_client, each with Retry-After;
// identifiers too long to be real are refused before anything else.
func TestTokenEndpointThrottles(t *testing.T) {
	ts := limited(t)
	from := func(addr string, form url.Values, user, pass string) reply {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/oauth/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
		return do(t, req)
	}
	pw := func(password string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}}
	}
	for range 3 {
		r := from("198.51.100.1", pw("guess"), "1234", "qwerty")
		require.Equal(t, 400, r.status)
		assert.Equal(t, "wrong username or password", r.body["error_description"])
	}
	r := from("198.51.100.1", pw("alice-password"), "1234", "qwerty")
	assert.Equal(t, 400, r.status)
	assert.Equal(t, "invalid_grant", r.body["error"])
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, 200, from("203.0.113.9", pw("alice-password"), "1234", "qwerty").status, "another address")

	for range 3 {
		require.Equal(t, 401, from("198.51.100.2", pw("alice-password"), "service", "guess").status)
	}
	r = from("198.51.100.2", pw("alice-password"), "service", "guess")
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "invalid_client", r.body["error"])
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.NotEmpty(t, r.header.Get("WWW-Authenticate"))
	cc := url.Values{"grant_type": {"client_credentials"}}
	assert.Equal(t, 200, from("198.51.100.2", cc, "service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e").status,
		"the client itself is never slowed down")

	unknown := from("198.51.100.3", cc, "no-such-client", "x")
	wrong := from("198.51.100.3", cc, "service", "x")
	assert.Equal(t, unknown.status, wrong.status)
	assert.Equal(t, unknown.body, wrong.body, "an unknown client and a wrong secret answer alike")
	post := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"no-such-client"}, "client_secret": {"x"}}, "", "")
	assert.Equal(t, wrong.body, post.body)

	long := from("198.51.100.4", url.Values{"grant_type": {"password"}, "username": {strings.Repeat("u", 20<<10)}, "password": {"x"}}, "1234", "qwerty")
	assert.Equal(t, 400, long.status)
	assert.Equal(t, "invalid_request", long.body["error"])
	longID := from("198.51.100.4", cc, strings.Repeat("c", 129), "x")
	assert.Equal(t, 400, longID.status)
	assert.Equal(t, "invalid_request", longID.body["error"])
}
