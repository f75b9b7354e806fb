package authserver_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
)

const spaOrigin = "https://spa.example"

// startWithSPA starts a server with a public browser app registered at
// spaOrigin (by its redirect URI, the default).
func startWithSPA(t *testing.T) *testServer {
	t.Helper()
	spa := filepath.Join(t.TempDir(), "spa.yaml")
	require.NoError(t, os.WriteFile(spa, []byte(`
clients:
  - id: spa
    name: Browser app
    type: public
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["`+spaOrigin+`/callback"]
    scopes: [current_time]
    default_scopes: [current_time]
`), 0o600))
	return start(t, authserver.WithFixtures(demoFixtures, extraFixtures, spa))
}

func request(t *testing.T, method, u, origin string, form url.Values, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func TestCORS(t *testing.T) {
	ts := startWithSPA(t)
	acao := func(r reply) string { return r.header.Get("Access-Control-Allow-Origin") }
	exchange := url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {"not-a-code"},
		"redirect_uri": {spaOrigin + "/callback"}, "code_verifier": {strings.Repeat("v", 43)}}

	t.Run("preflight", func(t *testing.T) {
		for _, path := range []string{"/oauth/token", "/oauth/revoke"} {
			r := request(t, http.MethodOptions, ts.URL+path, spaOrigin, nil,
				"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
			assert.Equal(t, http.StatusNoContent, r.status, path)
			assert.Equal(t, spaOrigin, acao(r), path)
			assert.Equal(t, "Authorization, Content-Type", r.header.Get("Access-Control-Allow-Headers"))
			assert.NotEmpty(t, r.header.Get("Access-Control-Max-Age"))

			r = request(t, http.MethodOptions, ts.URL+path, "https://evil.example", nil, "Access-Control-Request-Method", "POST")
			assert.Empty(t, acao(r), "an origin no client registered: %s", path)
		}
	})
	t.Run("the client's own origin reads its answer", func(t *testing.T) {
		r := request(t, http.MethodPost, ts.URL+"/oauth/token", spaOrigin, exchange)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_grant", r.body["error"])
		assert.Equal(t, spaOrigin, acao(r))
		assert.Contains(t, r.header.Values("Vary"), "Origin")
		assert.Empty(t, r.header.Get("Access-Control-Allow-Credentials"))

		r = request(t, http.MethodPost, ts.URL+"/oauth/revoke", spaOrigin, url.Values{"client_id": {"spa"}, "token": {"x"}})
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, spaOrigin, acao(r))
	})
	t.Run("another client's answer is not readable from that origin", func(t *testing.T) {
		r := request(t, http.MethodPost, ts.URL+"/oauth/token", spaOrigin, url.Values{"grant_type": {"client_credentials"}},
			"Authorization", basic("service", serviceSecret))
		require.Equal(t, http.StatusOK, r.status, r.raw)
		assert.Empty(t, acao(r), "a token of service never reaches the SPA's pages")
	})
	t.Run("an origin no client allows", func(t *testing.T) {
		r := request(t, http.MethodPost, ts.URL+"/oauth/token", "https://evil.example", exchange)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Empty(t, acao(r))
	})
	t.Run("public documents", func(t *testing.T) {
		for _, path := range []string{"/oauth/jwks.json", "/.well-known/oauth-authorization-server"} {
			r := request(t, http.MethodGet, ts.URL+path, "https://anyone.example", nil)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "*", acao(r), path)
		}
	})
	t.Run("nothing elsewhere", func(t *testing.T) {
		r := request(t, http.MethodPost, ts.URL+"/oauth/introspect", spaOrigin, url.Values{"token": {"x"}},
			"Authorization", basic("resourceserver", "resourceserver-secret"))
		assert.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, acao(r), "introspection is for resource servers")
		r = request(t, http.MethodOptions, ts.URL+"/oauth/introspect", spaOrigin, nil, "Access-Control-Request-Method", "POST")
		assert.Empty(t, acao(r))
		r = request(t, http.MethodGet, ts.URL+"/oauth/login", spaOrigin, nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Empty(t, acao(r), "the pages are for this server's own origin")
	})
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	return req.Header.Get("Authorization")
}
