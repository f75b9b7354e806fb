package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/faulttest"
)

// The admin API over HTTP (/api/admin), as cmd/authserver mounts it, and
// the same use cases from Go (Server.Clients, Server.Users).

// startAdmin starts a server whose admin-cli has its secret in a
// directory of the test's, and returns it with an admin token.
func startAdmin(t *testing.T, opts ...authserver.Option) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	ts := start(t, append([]authserver.Option{authserver.WithSecretsDir(dir)}, opts...)...)
	return ts, ts.adminToken(t, dir)
}

// adminToken gets a token as admin-cli, with the secret from its file.
func (ts *testServer) adminToken(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "admin-cli.secret"))
	require.NoError(t, err)
	r := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "admin-cli", strings.TrimSpace(string(raw)))
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, "admin", r.body["scope"])
	return r.body["access_token"].(string)
}

func grantCC(t *testing.T, ts *testServer, id, secret string) reply {
	t.Helper()
	return ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
}

func TestAdminAPIOverHTTP(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts, admin := startAdmin(t, opts(t)...)

			// Who may: nobody without credentials, a good token without
			// the admin scope is a 403 naming the scope.
			r := ts.api(t, http.MethodGet, "/admin/clients", "", nil)
			require.Equal(t, 401, r.status, r.raw)
			assert.Equal(t, `Bearer realm="authserver"`, r.header.Get("WWW-Authenticate"))
			plain := grantCC(t, ts, "service", serviceSecret)
			r = ts.api(t, http.MethodGet, "/admin/clients", plain.body["access_token"].(string), nil)
			require.Equal(t, 403, r.status, r.raw)
			assert.Equal(t, `Bearer realm="authserver", error="insufficient_scope", scope="admin"`, r.header.Get("WWW-Authenticate"))
			r = ts.api(t, http.MethodGet, "/admin/clients", "a.b.c", nil)
			require.Equal(t, 401, r.status, r.raw)
			assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)

			// A client made, shown once with its secret; it gets a token.
			r = ts.api(t, http.MethodPost, "/admin/clients", admin, obj{
				"id": "reports", "name": "Reports", "type": "confidential",
				"grant_types": []string{"client_credentials"}, "scopes": []string{"current_time"},
			})
			require.Equal(t, 201, r.status, r.raw)
			assert.Equal(t, "/api/admin/clients/reports", r.header.Get("Location"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			made := r.result()
			secret, _ := made["client_secret"].(string)
			require.NotEmpty(t, secret)
			assert.Equal(t, "admin", made["managed_by"])
			tok := grantCC(t, ts, "reports", secret)
			require.Equal(t, 200, tok.status, tok.raw)
			assert.Equal(t, "current_time", tok.body["scope"])
			reportsToken := tok.body["access_token"].(string)
			require.True(t, ts.introspectActive(t, reportsToken))

			got := ts.api(t, http.MethodGet, "/admin/clients/reports", admin, nil)
			require.Equal(t, 200, got.status, got.raw)
			assert.NotContains(t, got.result(), "client_secret", "the secret is shown once only")
			assert.NotContains(t, got.raw, "hmac", "nor its hash")

			// Refusals: each names the field, a fixture's client stays the
			// files', an id is taken once.
			for name, tc := range map[string]struct {
				method, path string
				body         any
				status       int
				field        string
			}{
				"http redirect":           {http.MethodPost, "/admin/clients", obj{"name": "X", "type": "public", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://x.example/cb"}}, 400, "redirect_uris"},
				"the admin scope":         {http.MethodPost, "/admin/clients", obj{"name": "X", "type": "confidential", "grant_types": []string{"client_credentials"}, "scopes": []string{"admin"}}, 400, "scopes"},
				"missing type":            {http.MethodPost, "/admin/clients", obj{"name": "X", "grant_types": []string{}}, 400, "type"},
				"unknown field":           {http.MethodPost, "/admin/clients", obj{"name": "X", "type": "public", "grant_types": []string{}, "secret": "mine"}, 400, ""},
				"id taken":                {http.MethodPost, "/admin/clients", obj{"id": "reports", "name": "X", "type": "public", "grant_types": []string{}}, 409, "id"},
				"a fixture's id":          {http.MethodPost, "/admin/clients", obj{"id": "1234", "name": "X", "type": "public", "grant_types": []string{}}, 409, "id"},
				"update a fixture's":      {http.MethodPut, "/admin/clients/1234", obj{"name": "X", "type": "public", "grant_types": []string{}}, 409, "id"},
				"delete a fixture's":      {http.MethodDelete, "/admin/clients/1234", nil, 409, "id"},
				"another id in a PUT":     {http.MethodPut, "/admin/clients/reports", obj{"id": "other", "name": "X", "type": "public", "grant_types": []string{}}, 400, "id"},
				"no such client":          {http.MethodGet, "/admin/clients/nobody", nil, 404, ""},
				"limit too large":         {http.MethodGet, "/admin/clients?limit=101", nil, 400, "limit"},
				"limit not a number":      {http.MethodGet, "/admin/clients?limit=ten", nil, 400, "limit"},
				"a made-up cursor":        {http.MethodGet, "/admin/users?cursor=%25%25", nil, 400, "cursor"},
				"user: short password":    {http.MethodPost, "/admin/users", obj{"name": "kim", "password": "short"}, 400, "password"},
				"user: nothing to change": {http.MethodPatch, "/admin/users/x", obj{}, 400, ""},
			} {
				t.Run(name, func(t *testing.T) {
					r := ts.api(t, tc.method, tc.path, admin, tc.body)
					require.Equal(t, tc.status, r.status, r.raw)
					if tc.field != "" {
						assert.Contains(t, r.problems()[0], tc.field+": ")
					}
				})
			}
			r = ts.post(t, "/oauth/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}, "1234", "qwerty")
			require.Equal(t, 200, r.status, "the fixture's client is untouched: %s", r.raw)

			// Update: a new name and scopes; a token issued before keeps
			// what it had.
			r = ts.api(t, http.MethodPut, "/admin/clients/reports", admin, obj{
				"name": "Reports v2", "type": "confidential", "grant_types": []string{"client_credentials"}, "scopes": []string{"current_time", "epoch_time"},
			})
			require.Equal(t, 200, r.status, r.raw)
			assert.Equal(t, "Reports v2", r.result()["name"])
			assert.Nil(t, r.result()["client_secret"], "still confidential: the same secret")
			require.Equal(t, 200, grantCC(t, ts, "reports", secret).status)

			// The list, a page at a time.
			var ids []string
			cursor := ""
			for {
				page := ts.api(t, http.MethodGet, "/admin/clients?limit=2&cursor="+cursor, admin, nil)
				require.Equal(t, 200, page.status, page.raw)
				meta := page.body["meta"].(obj)
				assert.EqualValues(t, 9, meta["total"], "the demo's 5, the tests' 3, reports")
				for _, c := range page.body["results"].([]any) {
					ids = append(ids, c.(obj)["id"].(string))
				}
				next, _ := meta["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			assert.Equal(t, []string{"1234", "admin-cli", "es-rp", "public-app", "refresher", "reports", "resourceserver", "service", "webapp-browser"}, ids,
				"each once, in byte order")

			// Delete: its tokens are inactive at once, and the id is never
			// a client's again.
			r = ts.api(t, http.MethodDelete, "/admin/clients/reports", admin, nil)
			require.Equal(t, 204, r.status, r.raw)
			assert.False(t, ts.introspectActive(t, reportsToken), "its access token is inactive at once")
			assert.Equal(t, 401, grantCC(t, ts, "reports", secret).status, "it cannot authenticate")
			assert.Equal(t, 404, ts.api(t, http.MethodGet, "/admin/clients/reports", admin, nil).status)
			assert.Equal(t, 404, ts.api(t, http.MethodDelete, "/admin/clients/reports", admin, nil).status)
			r = ts.api(t, http.MethodPost, "/admin/clients", admin, obj{"id": "reports", "name": "Again", "type": "public", "grant_types": []string{}})
			assert.Equal(t, 409, r.status, r.raw)
		})
	}
}

func TestAdminUsersOverHTTP(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts, admin := startAdmin(t, opts(t)...)
			r := ts.api(t, http.MethodPost, "/admin/users", admin, obj{"name": "Root", "password": "root-password-1", "admin": true})
			require.Equal(t, 201, r.status, r.raw)
			root := r.result()
			assert.Equal(t, "root", root["name"])
			assert.Equal(t, true, root["admin"])
			assert.NotContains(t, r.raw, "argon2", "never a hash")
			rootID := root["id"].(string)
			assert.Equal(t, 409, ts.api(t, http.MethodPost, "/admin/users", admin, obj{"name": "ROOT", "password": "root-password-1"}).status)

			// A signed-in administrator: the API's session token...
			session := ts.login(t, "root", "root-password-1")
			r = ts.api(t, http.MethodGet, "/admin/users", session, nil)
			require.Equal(t, 200, r.status, r.raw)
			assert.EqualValues(t, 2, r.body["meta"].(obj)["total"], "alice and root")
			aliceSession := ts.login(t, "alice", "alice-password")
			r = ts.api(t, http.MethodGet, "/admin/users", aliceSession, nil)
			require.Equal(t, 403, r.status, "alice is no administrator: %s", r.raw)

			// ... or the pages' cookie, from the pages' own origin only.
			var cookie *http.Cookie
			for _, c := range newBrowser(t, ts).LoginAs("/oauth/account", "root", "root-password-1").Cookies() {
				if c.Name == "authserver_session" && c.Value != "" {
					cookie = c
				}
			}
			require.NotNil(t, cookie)
			withCookie := func(method, site string) int {
				req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+"/api/admin/users/"+rootID, nil)
				require.NoError(t, err)
				req.AddCookie(cookie)
				if site != "" {
					req.Header.Set("Sec-Fetch-Site", site)
				}
				return do(t, req).status
			}
			assert.Equal(t, 200, withCookie(http.MethodGet, ""))
			assert.Equal(t, 403, withCookie(http.MethodDelete, "cross-site"), "a cookie sent by another site's page")

			// Changes: taking the role away counts at once; disabling ends
			// the sessions; a new password works, the old one does not.
			alice := ts.api(t, http.MethodGet, "/admin/users?limit=100", admin, nil).body["results"].([]any)
			var aliceID string
			for _, u := range alice {
				if u.(obj)["name"] == "alice" {
					aliceID = u.(obj)["id"].(string)
				}
			}
			require.NotEmpty(t, aliceID)
			h := ts.holdAll(t, "alice", "alice-password")
			r = ts.api(t, http.MethodPatch, "/admin/users/"+aliceID, session, obj{"disabled": true})
			require.Equal(t, 200, r.status, r.raw)
			assert.Equal(t, true, r.result()["disabled"])
			ts.requireAllEnded(t, h, aliceID)
			r = ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "alice", "password": "alice-password"})
			assert.Equal(t, 401, r.status, "a disabled account signs in nowhere: %s", r.raw)
			r = ts.api(t, http.MethodPatch, "/admin/users/"+aliceID, session, obj{"disabled": false, "password": "alice-password-2"})
			require.Equal(t, 200, r.status, r.raw)
			time.Sleep(time.Second) // tokens carry whole seconds: the change's second is revoked
			ts.login(t, "alice", "alice-password-2")
			r = ts.api(t, http.MethodPost, "/sessions", "", obj{"name": "alice", "password": "alice-password"})
			assert.Equal(t, 401, r.status, r.raw)

			r = ts.api(t, http.MethodPatch, "/admin/users/"+rootID, admin, obj{"admin": false})
			require.Equal(t, 200, r.status, r.raw)
			assert.Equal(t, 403, ts.api(t, http.MethodGet, "/admin/users", session, nil).status, "no longer an administrator")

			r = ts.api(t, http.MethodDelete, "/admin/users/"+aliceID, admin, nil)
			require.Equal(t, 204, r.status, r.raw)
			assert.Equal(t, 404, ts.api(t, http.MethodGet, "/admin/users/"+aliceID, admin, nil).status)
			assert.Equal(t, 404, ts.api(t, http.MethodDelete, "/admin/users/"+aliceID, admin, nil).status)
		})
	}
}

// Of 50 creations of one client id at once, exactly one is a 201; of 50
// deletions, one is a 204.
func TestRaceAdminAPI(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts, admin := startAdmin(t, opts(t)...)
			statuses := make([]int, raceRounds)
			secrets := make([]string, raceRounds)
			var wg sync.WaitGroup
			for i := range raceRounds {
				wg.Go(func() {
					r := ts.api(t, http.MethodPost, "/admin/clients", admin, obj{
						"id": "contested", "name": fmt.Sprintf("racer %d", i), "type": "confidential", "grant_types": []string{"client_credentials"},
					})
					statuses[i] = r.status
					secrets[i], _ = r.result()["client_secret"].(string)
				})
			}
			wg.Wait()
			winner := -1
			for i, s := range statuses {
				if s == 201 {
					require.Equal(t, -1, winner, "two creations won: %v", statuses)
					winner = i
				} else {
					require.Equal(t, 409, s)
				}
			}
			require.NotEqual(t, -1, winner, "%v", statuses)
			got := ts.api(t, http.MethodGet, "/admin/clients/contested", admin, nil)
			assert.Equal(t, fmt.Sprintf("racer %d", winner), got.result()["name"], "the winner's client is stored")
			require.Equal(t, 200, grantCC(t, ts, "contested", secrets[winner]).status, "with the winner's secret")

			for i := range raceRounds {
				wg.Go(func() { statuses[i] = ts.api(t, http.MethodDelete, "/admin/clients/contested", admin, nil).status })
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				if s == 204 {
					won++
				} else {
					require.Equal(t, 404, s)
				}
			}
			assert.Equal(t, 1, won, "%v", statuses)
		})
	}
}

// Bounds: a body over the limit is a 413, a page at most 100, and session
// tokens guessed at the admin API are limited like passwords.
func TestAdminAPIFloodBounds(t *testing.T) {
	ts, admin := startAdmin(t, authserver.WithMaxBodyBytes(4096),
		authserver.WithLoginLimits(authserver.LoginLimits{PerAccountSource: 5, PerAccount: 50, PerSource: 3,
			BaseDelay: time.Minute, MaxDelay: time.Hour, Window: 2 * time.Hour}))
	big := obj{"name": "X", "type": "public", "grant_types": []string{}, "redirect_uris": []string{"https://x.example/" + strings.Repeat("a", 5000)}}
	r := ts.api(t, http.MethodPost, "/admin/clients", admin, big)
	require.Equal(t, 413, r.status, r.raw)

	for i := range 120 {
		r := ts.api(t, http.MethodPost, "/admin/clients", admin, obj{"id": fmt.Sprintf("bulk-%03d", i), "name": "Bulk", "type": "public", "grant_types": []string{}})
		require.Equal(t, 201, r.status, r.raw)
	}
	r = ts.api(t, http.MethodGet, "/admin/clients?limit=100", admin, nil)
	require.Equal(t, 200, r.status)
	assert.Len(t, r.body["results"], 100, "a page holds at most 100")
	assert.NotEmpty(t, r.body["meta"].(obj)["next_cursor"])
	r = ts.api(t, http.MethodGet, "/admin/clients", admin, nil)
	assert.Len(t, r.body["results"], 20, "20 unless asked")

	for i := range 3 {
		r := ts.api(t, http.MethodGet, "/admin/clients", fmt.Sprintf("guess-%d", i), nil)
		require.Equal(t, 401, r.status, r.raw)
	}
	r = ts.api(t, http.MethodGet, "/admin/clients", "guess-3", nil)
	require.Equal(t, 429, r.status, r.raw)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

// A PostgreSQL that stalls a client's deletion: a fast 503, the tokens it
// issued are inactive already, and the request sent again finishes it.
func TestAdminAPIFaults(t *testing.T) {
	opt, dsn := durableStorage(t, "", time.Second, 0)
	ts, admin := startAdmin(t, opt)
	r := ts.api(t, http.MethodPost, "/admin/clients", admin, obj{"id": "stalled", "name": "S", "type": "confidential", "grant_types": []string{"client_credentials"}})
	require.Equal(t, 201, r.status, r.raw)
	tok := grantCC(t, ts, "stalled", r.result()["client_secret"].(string)).body["access_token"].(string)

	release := faulttest.LockTable(t, dsn, "clients")
	began := time.Now()
	r = ts.api(t, http.MethodDelete, "/admin/clients/stalled", admin, nil)
	release()
	require.Equal(t, 503, r.status, r.raw)
	assert.Less(t, time.Since(began), 5*time.Second, "fast")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.False(t, ts.introspectActive(t, tok), "revoked before the client goes")
	r = ts.api(t, http.MethodDelete, "/admin/clients/stalled", admin, nil)
	require.Equal(t, 204, r.status, "the retry finishes it: %s", r.raw)
	assert.Equal(t, 404, ts.api(t, http.MethodGet, "/admin/clients/stalled", admin, nil).status)

	// A password reset whose revocations stall: the password is set, the
	// answer says so with a 503, and the same request again finishes it.
	r = ts.api(t, http.MethodPost, "/admin/users", admin, obj{"name": "paul", "password": "paul-password-1"})
	require.Equal(t, 201, r.status, r.raw)
	id := r.result()["id"].(string)
	h := ts.holdAll(t, "paul", "paul-password-1")
	release = faulttest.LockTable(t, dsn, "refresh_users")
	r = ts.api(t, http.MethodPatch, "/admin/users/"+id, admin, obj{"password": "paul-password-2"})
	release()
	require.Equal(t, 503, r.status, r.raw)
	assert.Contains(t, r.problems()[0], "send the same request again")
	r = ts.api(t, http.MethodPatch, "/admin/users/"+id, admin, obj{"password": "paul-password-2"})
	require.Equal(t, 200, r.status, "the retry finishes it: %s", r.raw)
	ts.requireAllEnded(t, h, id)
}

// The same use cases from Go, with the same errors.
func TestManagementFromGo(t *testing.T) {
	ctx := context.Background()
	ts := start(t)
	clients, users := ts.srv.Clients(), ts.srv.Users()

	made, err := clients.Create(ctx, authserver.NewClient{ID: "go-made", ClientSpec: authserver.ClientSpec{
		Name: "Made in Go", Type: authserver.Confidential, GrantTypes: []authserver.Grant{authserver.GrantClientCredentials},
		Scopes: []string{"epoch_time"},
	}})
	require.NoError(t, err)
	require.NotEmpty(t, made.Secret)
	tok := grantCC(t, ts, "go-made", made.Secret)
	require.Equal(t, 200, tok.status, tok.raw)

	_, err = clients.Create(ctx, authserver.NewClient{ID: "go-made", ClientSpec: authserver.ClientSpec{Name: "X", Type: authserver.Public}})
	assert.ErrorIs(t, err, authserver.ErrClientIDTaken)
	_, err = clients.Update(ctx, "1234", authserver.ClientSpec{Name: "X", Type: authserver.Public})
	assert.ErrorIs(t, err, authserver.ErrConfigManaged)
	_, err = clients.Create(ctx, authserver.NewClient{ClientSpec: authserver.ClientSpec{Name: "X", Type: authserver.Public,
		GrantTypes: []authserver.Grant{authserver.GrantAuthorizationCode}, RedirectURIs: []string{"http://example.com/cb"}}})
	var fe *authserver.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "redirect_uris", fe.Field)
	page, err := clients.List(ctx, authserver.Page{Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 8, page.Total, "the demo's but admin-cli (no secrets directory), the tests' (es-rp among them), go-made")

	require.NoError(t, clients.Delete(ctx, "go-made"))
	assert.False(t, ts.introspectActive(t, tok.body["access_token"].(string)))
	_, err = clients.Get(ctx, "go-made")
	assert.ErrorIs(t, err, authserver.ErrNoSuchClient)
	assert.ErrorIs(t, err, authserver.ErrNotFound)

	u, err := users.Create(ctx, authserver.NewUser{Username: "Gus", Password: "gus-password-1"})
	require.NoError(t, err)
	assert.Equal(t, "gus", u.Username)
	_, err = users.Create(ctx, authserver.NewUser{Username: "gus", Password: "gus-password-1"})
	assert.ErrorIs(t, err, authserver.ErrUsernameTaken)
	session := ts.login(t, "gus", "gus-password-1")
	require.NoError(t, users.SetPassword(ctx, u.ID, "gus-password-2"))
	assert.Equal(t, 401, ts.api(t, http.MethodGet, "/accounts/"+u.ID, session, nil).status, "a new password ends the sessions")
	list, err := users.List(ctx, authserver.Page{})
	require.NoError(t, err)
	assert.Equal(t, 2, list.Total)
	require.NoError(t, users.Delete(ctx, u.ID))
	err = users.Delete(ctx, u.ID)
	assert.True(t, errors.Is(err, authserver.ErrNoSuchUser), "%v", err)
}

// A server on stores of the embedder's that cannot administer answers
// ErrNotSupported (501 over HTTP), and still serves everything else.
func TestManagementNeedsTheRegistry(t *testing.T) {
	ts := start(t, authserver.WithStores(authserver.Stores{Clients: &appClients{clients: map[string]authserver.Client{}}}))
	_, err := ts.srv.Clients().List(context.Background(), authserver.Page{})
	assert.ErrorIs(t, err, authserver.ErrNotSupported)
	r := ts.api(t, http.MethodGet, "/admin/users", "", nil)
	assert.Equal(t, 401, r.status, "the API still asks who calls")
}
