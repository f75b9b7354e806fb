package authserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage"
)

// The accounts and sessions API over HTTP, on the server as cmd/authserver
// mounts it (/api), with its sessions shared with the pages.

// api sends a JSON request to the accounts API, with a bearer session
// token if token is set. A string body is sent as it is.
func (ts *testServer) api(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	return ts.apiFrom(t, "", method, path, token, body)
}

// apiFrom is api as forwarded by a trusted proxy for source, if set.
func (ts *testServer) apiFrom(t *testing.T, source, method, path, token string, body any) reply {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+"/api"+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if source != "" {
		req.Header.Set("X-Forwarded-For", source)
	}
	return do(t, req)
}

type obj = map[string]any

// result is the "result" of an answer.
func (r reply) result() obj { m, _ := r.body["result"].(obj); return m }

// problems are the "errors" of an answer, as "field: message".
func (r reply) problems() []string {
	var out []string
	list, _ := r.body["errors"].([]any)
	for _, e := range list {
		m, _ := e.(obj)
		f, _ := m["field"].(string)
		msg, _ := m["message"].(string)
		out = append(out, f+": "+msg)
	}
	return out
}

// account makes an account and opens an API session: its id and token.
func (ts *testServer) account(t *testing.T, name, password string) (id, token string) {
	t.Helper()
	made := ts.api(t, http.MethodPost, "/accounts", "", obj{"name": name, "password": password})
	require.Equal(t, 201, made.status, made.raw)
	token = ts.login(t, name, password)
	return made.result()["id"].(string), token
}

// login opens an API session and returns its token.
func (ts *testServer) login(t *testing.T, name, password string) string {
	t.Helper()
	s := ts.api(t, http.MethodPost, "/sessions", "", obj{"name": name, "password": password})
	require.Equal(t, 201, s.status, s.raw)
	return s.result()["token"].(string)
}

func (ts *testServer) introspectActive(t *testing.T, token string) bool {
	t.Helper()
	r := ts.post(t, "/oauth/introspect", url.Values{"token": {token}}, "resourceserver", "resourceserver-secret")
	require.Equal(t, 200, r.status, r.raw)
	return r.body["active"] == true
}

func TestAccountsAPIOverHTTP(t *testing.T) {
	ts := start(t, authserver.WithSessionLifetime(time.Hour), authserver.WithSessionLimits(2*time.Hour, 100))

	made := ts.api(t, http.MethodPost, "/accounts", "", obj{"name": "Carol", "password": "carol-password-1"})
	require.Equal(t, 201, made.status, made.raw)
	carol := made.result()
	assert.Equal(t, "carol", carol["name"], "names are stored case-mapped (PRECIS)")
	assert.Equal(t, "/api/accounts/"+carol["id"].(string), made.header.Get("Location"))
	assert.Equal(t, "no-store", made.header.Get("Cache-Control"))

	for name, tc := range map[string]struct {
		body   any
		ctype  string
		status int
		want   []string
	}{
		"name taken":         {obj{"name": "CAROL", "password": "another-password"}, "", 409, []string{"name: that username is taken"}},
		"fields missing":     {obj{}, "", 400, []string{"name: is required", "password: is required"}},
		"unknown field":      {obj{"name": "dan", "password": "dan-password-12", "admin": true}, "", 400, []string{": additionalProperties 'admin' not allowed"}},
		"wrong type":         {obj{"name": 7, "password": "dan-password-12"}, "", 400, []string{"name: expected string, but got number"}},
		"name too short":     {obj{"name": "d", "password": "dan-password-12"}, "", 400, []string{"name: a username has 3 to 64 bytes: letters, digits and symbols, no spaces"}},
		"password too short": {obj{"name": "dan", "password": "short"}, "", 400, []string{"password: the password must have at least 12 characters"}},
		"not JSON":           {"{", "", 400, nil},
		"not application/json": {`{"name":"dan","password":"dan-password-12"}`, "text/plain", 415,
			[]string{": the request body must be application/json"}},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/api/accounts", strings.NewReader(mustJSON(t, tc.body)))
			req.Header.Set("Content-Type", "application/json")
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			r := do(t, req)
			require.Equal(t, tc.status, r.status, r.raw)
			if tc.want != nil {
				assert.Equal(t, tc.want, r.problems())
			}
			assert.NotContains(t, r.raw, "short", "a password is never echoed")
		})
	}
	big := ts.api(t, http.MethodPost, "/accounts", "", `{"name":"`+strings.Repeat("x", 70<<10)+`"}`)
	assert.Equal(t, 413, big.status, big.raw)

	wrong := ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "carol", "password": "not it"})
	require.Equal(t, 401, wrong.status, wrong.raw)
	assert.Equal(t, `Bearer realm="authserver"`, wrong.header.Get("WWW-Authenticate"))
	assert.Equal(t, []string{": wrong username or password"}, wrong.problems())

	opened := ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "carol", "password": "carol-password-1"})
	require.Equal(t, 201, opened.status, opened.raw)
	sess := opened.result()
	token, id := sess["token"].(string), sess["id"].(string)
	assert.Equal(t, carol["id"], sess["account_id"])
	assert.Equal(t, "api", sess["door"])
	assert.Equal(t, true, sess["current"])
	assert.Equal(t, "127.0.0.1", sess["source"])
	created, err := time.Parse(time.RFC3339, sess["created_at"].(string))
	require.NoError(t, err)
	expires, err := time.Parse(time.RFC3339, sess["expires_at"].(string))
	require.NoError(t, err)
	assert.Equal(t, time.Hour, expires.Sub(created).Round(time.Second), "the session lifetime")

	anon := ts.api(t, http.MethodGet, "/sessions/"+id, "", nil)
	require.Equal(t, 401, anon.status)
	assert.Equal(t, `Bearer realm="authserver"`, anon.header.Get("WWW-Authenticate"), "RFC 6750 §3.1: no error without a token")
	bad := ts.api(t, http.MethodGet, "/sessions/"+id, token+"x", nil)
	require.Equal(t, 401, bad.status)
	assert.Contains(t, bad.header.Get("WWW-Authenticate"), `error="invalid_token"`)

	got := ts.api(t, http.MethodGet, "/sessions/"+id, token, nil)
	require.Equal(t, 200, got.status, got.raw)
	assert.Equal(t, id, got.result()["id"])
	assert.NotContains(t, got.result(), "token", "the token is shown once")
	assert.Equal(t, 200, ts.api(t, http.MethodGet, "/accounts/"+carol["id"].(string), token, nil).status)
	assert.Equal(t, 403, ts.api(t, http.MethodGet, "/accounts/someone-else", token, nil).status)

	// One model, two doors: a browser signed in on the login page is a
	// session of the account like the API's.
	b := newBrowser(t, ts)
	require.Equal(t, 303, b.LoginAs("/oauth/account", "carol", "carol-password-1").Status)
	list := ts.api(t, http.MethodGet, "/accounts/"+carol["id"].(string)+"/sessions", token, nil)
	require.Equal(t, 200, list.status, list.raw)
	results := list.body["results"].([]any)
	require.Len(t, results, 2)
	assert.Equal(t, float64(2), list.body["meta"].(obj)["count"])
	page := results[1].(obj)
	assert.Equal(t, "page", page["door"])
	assert.Equal(t, "Go-http-client/1.1", page["user_agent"])
	assert.Equal(t, false, page["current"])
	assert.Equal(t, 200, ts.api(t, http.MethodGet, "/sessions/"+page["id"].(string), token, nil).status)

	// Extended, capped two hours after it began.
	patched := ts.api(t, http.MethodPatch, "/sessions/"+id, token, obj{"expires_at": time.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)})
	require.Equal(t, 200, patched.status, patched.raw)
	capped, err := time.Parse(time.RFC3339, patched.result()["expires_at"].(string))
	require.NoError(t, err)
	assert.Equal(t, created.Add(2*time.Hour), capped)
	for body, want := range map[string]string{
		`{"expires_at":"2001-01-01T00:00:00Z"}`: "expires_at: expires_at must be in the future",
		`{"expires_at":"tomorrow"}`:             `expires_at: 'tomorrow' is not valid 'date-time'`,
	} {
		r := ts.api(t, http.MethodPatch, "/sessions/"+id, token, body)
		require.Equal(t, 400, r.status, r.raw)
		assert.Equal(t, []string{want}, r.problems())
	}

	// Ending the page's session from the API signs the browser out.
	assert.Equal(t, 200, b.Get("/oauth/account").Status)
	assert.Equal(t, 204, ts.api(t, http.MethodDelete, "/sessions/"+page["id"].(string), token, nil).status)
	assert.Equal(t, 302, b.Get("/oauth/account").Status, "signed out")
	assert.Equal(t, 404, ts.api(t, http.MethodDelete, "/sessions/"+page["id"].(string), token, nil).status, "gone")

	// Session tokens and access tokens never stand in for each other.
	assert.False(t, ts.introspectActive(t, token), "a session token is no access token")
	access := ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-password-1"}}, "1234", "qwerty")
	require.Equal(t, 200, access.status, access.raw)
	assert.Equal(t, 401, ts.api(t, http.MethodGet, "/sessions/"+id, access.body["access_token"].(string), nil).status)

	assert.Equal(t, 404, ts.api(t, http.MethodGet, "/nowhere", token, nil).status)
	assert.Equal(t, 405, ts.api(t, http.MethodPut, "/sessions", "", nil).status)

	assert.Equal(t, 204, ts.api(t, http.MethodDelete, "/accounts/"+carol["id"].(string)+"/sessions", token, nil).status)
	assert.Equal(t, 401, ts.api(t, http.MethodGet, "/sessions/"+id, token, nil).status, "every session ended, this one too")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// holdings is everything an account holds: what a password change or a
// closed account must take down, and the tests check.
type holdings struct {
	apiToken string
	browser  *browser
	code     tokens // code flow with PKCE, with a refresh token
	password string // password grant (client 1234), no refresh token
	pending  string // a code approved, not exchanged
}

func (ts *testServer) holdAll(t *testing.T, name, password string) holdings {
	t.Helper()
	h := holdings{apiToken: ts.login(t, name, password), browser: newBrowser(t, ts)}
	loc := h.browser.Authorize(h.browser.URL(authorizeQuery(nil)), name, password, "allow")
	u, _ := url.Parse(loc)
	ex := ts.exchangeCode(t, u.Query().Get("code"))
	require.Equal(t, 200, ex.status, ex.raw)
	h.code = tokensOf(ex)
	h.pending = approveAgain(t, h.browser)
	pw := ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}}, "1234", "qwerty")
	require.Equal(t, 200, pw.status, pw.raw)
	h.password = pw.body["access_token"].(string)
	require.True(t, ts.alive(t, h.code))
	require.True(t, ts.introspectActive(t, h.password))
	return h
}

// requireAllEnded checks that nothing of h works any more.
func (ts *testServer) requireAllEnded(t *testing.T, h holdings, id string) {
	t.Helper()
	assert.False(t, ts.alive(t, h.code), "code-flow tokens")
	assert.False(t, ts.introspectActive(t, h.password), "password-grant token")
	refreshed := ts.refresh(t, h.code.refresh)
	assert.Equal(t, "invalid_grant", refreshed.body["error"], refreshed.raw)
	exchanged := ts.exchangeCode(t, h.pending)
	assert.Equal(t, "invalid_grant", exchanged.body["error"], "the outstanding code: %s", exchanged.raw)
	assert.Equal(t, 401, ts.api(t, http.MethodGet, "/accounts/"+id, h.apiToken, nil).status, "the API session")
	assert.Equal(t, 302, h.browser.Get("/oauth/account").Status, "the page session")
}

// A password change ends every session, grant and token of the account at
// once, password-grant tokens included, on every backend.
func TestPasswordChangeEndsEverythingOverHTTP(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, opts(t)...)
			id, token := ts.account(t, "dave", "dave-password-1")
			h := ts.holdAll(t, "dave", "dave-password-1")

			path := "/accounts/" + id + "/password"
			for body, want := range map[string]struct {
				status  int
				problem string
			}{
				`{"current_password":"nope","new_password":"dave-password-2"}`:            {403, "current_password: the current password is wrong"},
				`{"current_password":"dave-password-1","new_password":"dave"}`:            {400, "new_password: the password must have at least 12 characters"},
				`{"current_password":"dave-password-1"}`:                                  {400, "new_password: is required"},
				`{"current_password":"dave-password-1","new_password":"dave-password-2"}`: {403, ""}, // someone else's account
			} {
				p := path
				if want.problem == "" {
					p = "/accounts/not-dave/password"
				}
				r := ts.api(t, http.MethodPut, p, token, body)
				require.Equal(t, want.status, r.status, r.raw)
				if want.problem != "" {
					assert.Equal(t, []string{want.problem}, r.problems())
				}
			}
			assert.True(t, ts.alive(t, h.code), "a refused change ends nothing")

			began := time.Now()
			changed := ts.api(t, http.MethodPut, path, token, obj{"current_password": "dave-password-1", "new_password": "dave-password-2"})
			require.Equal(t, 204, changed.status, changed.raw)
			assert.Less(t, time.Since(began), 5*time.Second)
			ts.requireAllEnded(t, h, id)
			assert.Equal(t, 401, ts.api(t, http.MethodGet, "/accounts/"+id, token, nil).status, "the caller's session too")

			old := ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"dave-password-1"}}, "1234", "qwerty")
			assert.Equal(t, "invalid_grant", old.body["error"])
			fresh := ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"dave-password-2"}}, "1234", "qwerty")
			require.Equal(t, 200, fresh.status, fresh.raw)
			assert.True(t, ts.introspectActive(t, fresh.body["access_token"].(string)), "a token issued after the answer works at once")
			again := ts.login(t, "dave", "dave-password-2")
			assert.Equal(t, 200, ts.api(t, http.MethodGet, "/accounts/"+id, again, nil).status)
		})
	}
}

func TestDeleteAccountCascadesOverHTTP(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, opts(t)...)
			id, token := ts.account(t, "erin", "erin-password-1")
			h := ts.holdAll(t, "erin", "erin-password-1")

			r := ts.api(t, http.MethodDelete, "/accounts/"+id, token, obj{"password": "wrong"})
			require.Equal(t, 403, r.status, r.raw)
			assert.Equal(t, []string{"password: the password is wrong"}, r.problems())
			r = ts.api(t, http.MethodDelete, "/accounts/"+id, token, nil)
			require.Equal(t, 415, r.status, "the password is required: %s", r.raw)
			assert.True(t, ts.alive(t, h.code), "nothing ended")

			r = ts.api(t, http.MethodDelete, "/accounts/"+id, token, obj{"password": "erin-password-1"})
			require.Equal(t, 204, r.status, r.raw)
			ts.requireAllEnded(t, h, id)
			login := ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "erin", "password": "erin-password-1"})
			assert.Equal(t, 401, login.status, "the account is gone")

			newID, _ := ts.account(t, "erin", "erin-password-9")
			assert.NotEqual(t, id, newID, "the name is free again, for another account")
		})
	}
}

// The races over HTTP, each 50 at once: one password change wins, one
// deletion wins, and a session ended while it is extended stays ended.
func TestRaceAccountsOverHTTP(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			// Each racer from an address of its own, through a trusted
			// proxy: the losers' wrong passwords are counted apart.
			ts := start(t, append(opts(t), authserver.WithTrustedProxies("127.0.0.1/32", "::1/128"))...)
			id, token := ts.account(t, "frank", "frank-password-0")
			statuses := make([]int, raceRounds)
			var wg sync.WaitGroup
			for i := range raceRounds {
				wg.Go(func() {
					r := ts.apiFrom(t, fmt.Sprintf("198.51.100.%d", i+1), http.MethodPut, "/accounts/"+id+"/password", token,
						obj{"current_password": "frank-password-0", "new_password": fmt.Sprintf("frank-password-%02d", i+1)})
					statuses[i] = r.status
				})
			}
			wg.Wait()
			winner := -1
			for i, s := range statuses {
				if s == 204 {
					require.Equal(t, -1, winner, "two changes won: %v", statuses)
					winner = i
				} else {
					// A loser: the password changed or the session ended
					// under it, its check was throttled, or the hash queue
					// was full (503, before anything was written).
					assert.Contains(t, []int{401, 403, 409, 429, 503}, s)
				}
			}
			require.NotEqual(t, -1, winner, "%v", statuses)
			// The winner's password is the account's. (Up to 49 wrong
			// passwords were just counted against the account: one more
			// would make it wait.)
			r := ts.apiFrom(t, "203.0.113.7", http.MethodPost, "/sessions", "", obj{"name": "frank", "password": fmt.Sprintf("frank-password-%02d", winner+1)})
			require.Equal(t, 201, r.status, "the winner's password: %s", r.raw)
			token = r.result()["token"].(string)

			// A session extended 49 times while it is ended: gone after.
			victim := ts.login(t, "frank", fmt.Sprintf("frank-password-%02d", winner+1))
			vid := ts.api(t, http.MethodGet, "/accounts/"+id+"/sessions", token, nil).body["results"].([]any)[1].(obj)["id"].(string)
			for i := range raceRounds {
				wg.Go(func() {
					if i == raceRounds/2 {
						assert.Equal(t, 204, ts.api(t, http.MethodDelete, "/sessions/"+vid, token, nil).status)
						return
					}
					r := ts.api(t, http.MethodPatch, "/sessions/"+vid, victim, obj{"expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
					assert.Contains(t, []int{200, 401, 404}, r.status, r.raw)
				})
			}
			wg.Wait()
			assert.Equal(t, 401, ts.api(t, http.MethodGet, "/sessions/"+vid, victim, nil).status, "the ended session came back")

			for i := range statuses {
				wg.Go(func() {
					statuses[i] = ts.apiFrom(t, fmt.Sprintf("198.51.100.%d", i+1), http.MethodDelete, "/accounts/"+id, token,
						obj{"password": fmt.Sprintf("frank-password-%02d", winner+1)}).status
				})
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				if s == 204 {
					won++
				} else {
					assert.Contains(t, []int{401, 429, 503}, s)
				}
			}
			assert.Equal(t, 1, won, "%v", statuses)
		})
	}
}

// Bearer session tokens are limited like passwords (3 free failures per
// source here), and a user keeps a bounded number of sessions (3 here).
func TestAccountsAPIFloodBounds(t *testing.T) {
	ts := start(t,
		authserver.WithLoginLimits(authserver.LoginLimits{PerAccountSource: 5, PerAccount: 50, PerSource: 3,
			BaseDelay: time.Minute, MaxDelay: time.Hour, Window: 2 * time.Hour}),
		authserver.WithSessionLimits(time.Hour, 3))
	id, token := ts.account(t, "gina", "gina-password-1")
	for range 4 {
		ts.login(t, "gina", "gina-password-1")
	}
	list := ts.api(t, http.MethodGet, "/accounts/"+id+"/sessions", ts.login(t, "gina", "gina-password-1"), nil)
	require.Equal(t, 200, list.status, list.raw)
	assert.Len(t, list.body["results"], 3, "the oldest sessions went")
	assert.Equal(t, 401, ts.api(t, http.MethodGet, "/accounts/"+id, token, nil).status, "the first among them")

	for i := range 2 { // with the ended one: 3 failures, all free
		r := ts.api(t, http.MethodGet, "/accounts/"+id, fmt.Sprintf("guess-%d", i), nil)
		require.Equal(t, 401, r.status, r.raw)
	}
	r := ts.api(t, http.MethodGet, "/accounts/"+id, "guess-2", nil)
	require.Equal(t, 429, r.status, r.raw)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

// Storage faults: a stalled PostgreSQL or a paused Redis is a fast 503,
// never a refusal that would send a client to sign in again, and nothing
// half done is acknowledged: the request sent again completes it.
func TestAccountsAPIFaults(t *testing.T) {
	t.Run("PostgreSQL stalls the revocations after the password is written", func(t *testing.T) {
		opt, dsn := durableStorage(t, "", time.Second, 0)
		ts := start(t, opt)
		id, token := ts.account(t, "hank", "hank-password-1")
		h := ts.holdAll(t, "hank", "hank-password-1")

		release := faulttest.LockTable(t, dsn, "refresh_users")
		began := time.Now()
		r := ts.api(t, http.MethodPut, "/accounts/"+id+"/password", token, obj{"current_password": "hank-password-1", "new_password": "hank-password-2"})
		release()
		require.Equal(t, 503, r.status, r.raw)
		assert.Less(t, time.Since(began), 5*time.Second, "fast")
		assert.Contains(t, r.problems()[0], "send the request again with the new password as the current one")

		r = ts.api(t, http.MethodPut, "/accounts/"+id+"/password", token, obj{"current_password": "hank-password-2", "new_password": "hank-password-2"})
		require.Equal(t, 204, r.status, "the retry finishes it: %s", r.raw)
		ts.requireAllEnded(t, h, id)
	})
	t.Run("PostgreSQL stalls the deletion", func(t *testing.T) {
		opt, dsn := durableStorage(t, "", time.Second, 0)
		ts := start(t, opt)
		id, token := ts.account(t, "ivan", "ivan-password-1")
		release := faulttest.LockTable(t, dsn, "users")
		r := ts.api(t, http.MethodDelete, "/accounts/"+id, token, obj{"password": "ivan-password-1"})
		release()
		require.Equal(t, 503, r.status, r.raw)
		assert.NotEmpty(t, r.header.Get("Retry-After"))
		token = ts.login(t, "ivan", "ivan-password-1") // nothing was deleted
		require.Equal(t, 204, ts.api(t, http.MethodDelete, "/accounts/"+id, token, obj{"password": "ivan-password-1"}).status)
	})
	t.Run("Redis holding sessions pauses", func(t *testing.T) {
		rd := faulttest.StartRedis(t, faulttest.RedisOptions{})
		ts := start(t, placed(t, storage.Config{
			Groups: map[storage.Group]storage.Backend{storage.Sessions: storage.Redis, storage.RateLimits: storage.Redis},
			Redis:  storage.RedisConfig{URL: rd.URL(), Timeout: time.Second},
		}))
		id, token := ts.account(t, "judy", "judy-password-1")
		rd.Pause()
		began := time.Now()
		got := ts.api(t, http.MethodGet, "/accounts/"+id, token, nil)
		opened := ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "judy", "password": "judy-password-1"})
		rd.Resume()
		assert.Less(t, time.Since(began), 8*time.Second, "fast")
		require.Equal(t, 503, got.status, "an outage, not a bad token: %s", got.raw)
		assert.Empty(t, got.header.Get("WWW-Authenticate"))
		require.Equal(t, 503, opened.status, opened.raw)
		assert.Eventually(t, func() bool {
			return ts.api(t, http.MethodGet, "/accounts/"+id, token, nil).status == 200
		}, time.Minute, 50*time.Millisecond, "the session outlived the outage")
	})
}
