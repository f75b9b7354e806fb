package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The accounts API and the account page against the real binaries: a
// password change or a closed account reaches the resource server at
// once, and the pages show and end the API's sessions, one model.

// apiCall sends a JSON request to the authserver's accounts API.
func apiCall(t *testing.T, auth *proc, method, path, token string, body any) response {
	t.Helper()
	var rd *bytes.Reader
	if body == nil {
		rd = bytes.NewReader(nil)
	} else {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, auth.url("/api"+path), rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// newAccount makes an account through the API and opens a session: the
// account's id and the session's token.
func newAccount(t *testing.T, auth *proc, name, password string) (id, token string) {
	t.Helper()
	made := apiCall(t, auth, http.MethodPost, "/accounts", "", map[string]string{"name": name, "password": password})
	require.Equal(t, 201, made.status, made.raw)
	return made.body["result"].(map[string]any)["id"].(string), apiLogin(t, auth, name, password)
}

func apiLogin(t *testing.T, auth *proc, name, password string) string {
	t.Helper()
	s := apiCall(t, auth, http.MethodPost, "/sessions", "", map[string]string{"name": name, "password": password})
	require.Equal(t, 201, s.status, s.raw)
	return s.body["result"].(map[string]any)["token"].(string)
}

// userToken is a password-grant access token of the demo client 1234.
func userToken(t *testing.T, auth *proc, name, password string) string {
	t.Helper()
	r := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}}, "1234", "qwerty")
	require.Equal(t, 200, r.status, r.raw)
	return r.body["access_token"].(string)
}

// resource calls the resource server with token and returns the status.
func resource(t *testing.T, rs *proc, token string) int {
	t.Helper()
	return get(t, rs.url("/current_time"), "Authorization", "Bearer "+token).status
}

func TestPasswordChangeReachesTheResourceServer(t *testing.T) {
	s := startSystemWith(t, map[string]string{"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "1h"})
	id, session := newAccount(t, s.auth, "lena", "lena-password-1")
	token := userToken(t, s.auth, "lena", "lena-password-1")
	require.Equal(t, 200, resource(t, s.rs, token))

	r := apiCall(t, s.auth, http.MethodPut, "/accounts/"+id+"/password", session,
		map[string]string{"current_password": "lena-password-1", "new_password": "lena-password-2"})
	require.Equal(t, 204, r.status, r.raw)
	assert.Equal(t, 401, resource(t, s.rs, token), "the token died with the password, at the resource server too")
	assert.Equal(t, 200, resource(t, s.rs, userToken(t, s.auth, "lena", "lena-password-2")), "a new one works at once")
}

// TestAccountPagesInChromium: the account page lists the API's session
// beside the browser's and ends it; then the account is closed from the
// page, after the password is entered again, and its token dies at the
// resource server.
func TestAccountPagesInChromium(t *testing.T) {
	browser := chromium(t)
	s := startSystemWith(t, map[string]string{"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "1h"})
	_, session := newAccount(t, s.auth, "mona", "mona-password-1")

	ctx := headless(t, browser, chromedp.WindowSize(900, 900))
	text := func(sel string) string {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return got
	}
	location := func() string {
		u, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return u
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.auth.url("/oauth/account")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "mona"),
		chromedp.SendKeys(chromedp.ID("password"), "mona-password-1"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//h2[contains(., "Where you are signed in")]`),
	))
	page := text("main")
	assert.Contains(t, page, "this browser")
	assert.Contains(t, page, "on the accounts API", "the API's session is listed with the browser's")
	assert.Contains(t, page, "Go-http-client", "with the program that opened it")

	// End the API's session from the page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//tr[contains(., "accounts API")]//button[contains(., "Sign out")]`),
		chromedp.WaitVisible(`//p[contains(., "Signed out there.")]`),
	))
	assert.NotContains(t, text("main"), "on the accounts API")
	assert.Equal(t, 401, apiCall(t, s.auth, http.MethodGet, "/sessions/x", session, nil).status, "the API's token is dead")

	// Close the account: a wrong password is refused on the page, the
	// right one closes it, and its token dies at the resource server.
	token := userToken(t, s.auth, "mona", "mona-password-1")
	require.Equal(t, 200, resource(t, s.rs, token))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("delete-password"), "not my password"),
		chromedp.Submit(chromedp.ID("delete-password")),
		chromedp.WaitVisible(`//p[contains(., "the password is wrong")]`),
	))
	assert.Equal(t, 200, resource(t, s.rs, token), "nothing ended")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("delete-password"), "mona-password-1"),
		chromedp.Submit(chromedp.ID("delete-password")),
		chromedp.WaitVisible(`//p[contains(., "Your account was deleted")]`),
	))
	assert.True(t, strings.HasPrefix(location(), s.auth.url("/oauth/login")), location())
	assert.Equal(t, 401, resource(t, s.rs, token), "the account's token died with it")
	r := apiCall(t, s.auth, http.MethodPost, "/sessions", "", map[string]string{"name": "mona", "password": "mona-password-1"})
	assert.Equal(t, 401, r.status, "the account is gone: %s", r.raw)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.auth.url("/oauth/account")),
		chromedp.WaitVisible(chromedp.ID("username")),
	))
}
