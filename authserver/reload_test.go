package authserver_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reloadSecretHash is the fast hash of refresherSec, for the clients a
// reload adds.
const reloadSecretHash = "$hmac-sha256$A/O8WDV3lBc4UdE77imDgQ$1oGiPn7g8/yuEb4459SVTWu5/thgOF22eOyh/zBeEwI"

// TestReloadFixtures: a reload adds a client that works at once, on every
// backend (PostgreSQL behind the client cache too), and a bad file changes
// nothing, not even the good records next to the bad one.
func TestReloadFixtures(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ts := start(t, opts(t)...)
			dir := t.TempDir()
			write := func(name, body string) string {
				p := filepath.Join(dir, name)
				require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
				return p
			}
			token := func(id string) reply {
				return ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, id, refresherSec)
			}
			preflight := func() string {
				r := request(t, "OPTIONS", ts.URL+"/oauth/token", "https://app.reloaded.example", nil, "Access-Control-Request-Method", "POST")
				return r.header.Get("Access-Control-Allow-Origin")
			}
			// Looked up before the reload: the cache remembers them unknown.
			assert.Equal(t, 401, token("reloaded").status)
			assert.Empty(t, preflight())

			good := write("good.yaml", `
scopes:
  - {name: reports, description: Read reports}
clients:
  - id: reloaded
    name: Added by a reload
    type: confidential
    secret_hash: "`+reloadSecretHash+`"
    grant_types: [client_credentials]
    scopes: [current_time, reports]
    default_scopes: [current_time]
  - id: reloaded-spa
    name: A browser app added by a reload
    type: public
    grant_types: [authorization_code]
    redirect_uris: ["https://app.reloaded.example/cb"]
`)
			sum, err := ts.srv.ReloadFixtures(ctx, demoFixtures, extraFixtures, good)
			require.NoError(t, err)
			assert.Equal(t, []string{"reloaded", "reloaded-spa"}, sum.ClientsAdded)
			assert.Empty(t, sum.ClientsChanged, "the demo clients are as they were")
			assert.Equal(t, 1, sum.ScopesWritten)
			assert.Zero(t, sum.UsersWritten)
			r := token("reloaded")
			require.Equal(t, 200, r.status, "the new client works at once: %s", r.raw)
			assert.Equal(t, "https://app.reloaded.example", preflight(), "and its origin too")

			sum, err = ts.srv.ReloadFixtures(ctx, demoFixtures, extraFixtures, good)
			require.NoError(t, err)
			assert.Zero(t, sum.ClientsWritten+sum.ScopesWritten+sum.UsersWritten, "a second reload changes nothing")

			bad := write("bad.yaml", `
clients:
  - id: never
    name: Valid on its own
    type: confidential
    secret_hash: "`+reloadSecretHash+`"
    grant_types: [client_credentials]
  - id: reloaded
    name: Now without a secret
    type: confidential
    grant_types: [client_credentials]
`)
			_, err = ts.srv.ReloadFixtures(ctx, demoFixtures, good, bad)
			assert.ErrorContains(t, err, "needs a secret")
			assert.Equal(t, 401, token("never").status, "nothing of a bad load is applied")
			assert.Equal(t, 200, token("reloaded").status, "and what was there stays")

			_, err = ts.srv.ReloadFixtures(ctx, good, filepath.Join(dir, "missing.yaml"))
			assert.ErrorContains(t, err, "missing.yaml")
			broken := write("broken.json", `{"clients": [{"id": "x"`)
			_, err = ts.srv.ReloadFixtures(ctx, broken)
			assert.ErrorContains(t, err, "broken.json")
		})
	}
}
