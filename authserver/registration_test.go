package authserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/authservertest"
	"github.com/oauth2ref/authserver/internal/faulttest"
)

// Dynamic client registration over HTTP: RFC 7591 at /oauth/register and
// RFC 7592 at each client's registration_client_uri, as cmd/authserver
// mounts them.

func openRegistration() authserver.Registration {
	r := authserver.DefaultRegistration()
	r.Mode = authserver.RegistrationOpen
	return r
}

// register sends a JSON request to the registration endpoints, from
// source through a trusted proxy if set.
func (ts *testServer) register(t *testing.T, method, url, token string, body any) reply {
	t.Helper()
	return ts.registerFrom(t, "", method, url, token, body)
}

func (ts *testServer) registerFrom(t *testing.T, source, method, target, token string, body any) reply {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(t, err)
	}
	if !strings.HasPrefix(target, "http") {
		target = ts.URL + target
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, bytes.NewReader(raw))
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

// nativeClient is what a native app sends to register: a public client
// with a loopback redirect URI (RFC 8252 §7.3).
func nativeClient(name string) obj {
	return obj{"client_name": name, "redirect_uris": []string{"http://127.0.0.1:8765/callback"}, "token_endpoint_auth_method": "none"}
}

func TestRegistrationThenCodeFlowWithXOAuth2(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, append(opts(t), authserver.WithRegistration(openRegistration()))...)
			md := ts.metadata(t)
			endpoint, _ := md["registration_endpoint"].(string)
			require.Equal(t, ts.URL+"/oauth/register", endpoint, "advertised")

			r := ts.register(t, http.MethodPost, endpoint, "", obj{
				"client_name": "Native app", "redirect_uris": []string{"http://127.0.0.1:8765/callback"},
				"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
				"logo_uri":                  "https://app.example/logo.png", // metadata it does not know is ignored (RFC 7591 §2)
				"post_logout_redirect_uris": []string{"http://127.0.0.1:8765/bye"},
			})
			require.Equal(t, 201, r.status, r.raw)
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			id, _ := r.body["client_id"].(string)
			require.NotEmpty(t, id)
			regToken, _ := r.body["registration_access_token"].(string)
			require.NotEmpty(t, regToken)
			manage := ts.URL + "/oauth/register/" + id
			assert.Equal(t, manage, r.body["registration_client_uri"])
			assert.Equal(t, manage, r.header.Get("Location"))
			assert.NotContains(t, r.body, "client_secret", "a public client has none")
			assert.NotContains(t, r.body, "client_secret_expires_at")
			assert.NotContains(t, r.body, "logo_uri", "not registered, so not echoed")
			assert.Equal(t, "none", r.body["token_endpoint_auth_method"])
			assert.Equal(t, []any{"code"}, r.body["response_types"])
			assert.Equal(t, "current_time email epoch_time openid profile", r.body["scope"], "every scope but admin and register")
			assert.Equal(t, "RS256", r.body["id_token_signed_response_alg"], "OpenID Connect's default, said")
			assert.NotZero(t, r.body["client_id_issued_at"])

			// A real client library runs the code flow with PKCE: sign-in
			// and consent in the pages, the exchange by x/oauth2.
			conf := oauth2.Config{
				ClientID:    id,
				Endpoint:    oauth2.Endpoint{AuthURL: md["authorization_endpoint"].(string), TokenURL: md["token_endpoint"].(string), AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: "http://127.0.0.1:8765/callback",
				Scopes:      []string{"openid", "current_time"},
			}
			verifier := oauth2.GenerateVerifier()
			back := authservertest.New(t, ts.URL).Authorize(conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)), "alice", "alice-password", "allow")
			cb, err := url.Parse(back)
			require.NoError(t, err)
			require.Equal(t, "st-1", cb.Query().Get("state"), back)
			tok, err := conf.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
			require.NoError(t, err)
			require.NotEmpty(t, tok.RefreshToken)
			assert.NotEmpty(t, tok.Extra("id_token"), "an OpenID Connect relying party, registered like any client")
			assert.True(t, ts.introspectActive(t, tok.AccessToken))
			assert.Equal(t, []any{"http://127.0.0.1:8765/bye"}, r.body["post_logout_redirect_uris"])

			// Without PKCE the same client is refused: it is public.
			noPKCE := authservertest.New(t, ts.URL).Authorize(conf.AuthCodeURL("st-2"), "alice", "alice-password", "allow")
			assert.Contains(t, noPKCE, "error=invalid_request", "PKCE is required")

			// RFC 7592: read, replace, delete.
			got := ts.register(t, http.MethodGet, manage, regToken, nil)
			require.Equal(t, 200, got.status, got.raw)
			assert.Equal(t, "Native app", got.body["client_name"])
			assert.NotContains(t, got.body, "registration_access_token", "shown once")
			upd := ts.register(t, http.MethodPut, manage, regToken, obj{
				"client_id": id, "client_name": "Renamed", "redirect_uris": []string{"http://127.0.0.1:8765/callback"},
				"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
			})
			require.Equal(t, 200, upd.status, upd.raw)
			assert.Equal(t, "Renamed", upd.body["client_name"])
			fresh, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			require.NoError(t, err, "an update leaves its grants alone")

			del := ts.register(t, http.MethodDelete, manage, regToken, nil)
			require.Equal(t, 204, del.status, del.raw)
			assert.False(t, ts.introspectActive(t, tok.AccessToken), "its tokens died with it")
			assert.False(t, ts.introspectActive(t, fresh.AccessToken))
			_, err = conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token()
			assert.Error(t, err, "its refresh token too")
			gone := ts.register(t, http.MethodGet, manage, regToken, nil)
			assert.Equal(t, 401, gone.status, "RFC 7592 §2.1: a client that is gone is a 401")
		})
	}
}

func TestRegistrationRefusals(t *testing.T) {
	ts := start(t, authserver.WithRegistration(openRegistration()))
	a := ts.register(t, http.MethodPost, "/oauth/register", "", nativeClient("A"))
	b := ts.register(t, http.MethodPost, "/oauth/register", "", obj{"client_name": "B", "redirect_uris": []string{"https://b.example/cb"}})
	require.Equal(t, 201, a.status, a.raw)
	require.Equal(t, 201, b.status, b.raw)
	assert.NotEmpty(t, b.body["client_secret"], "confidential by default (client_secret_basic)")
	assert.Equal(t, float64(0), b.body["client_secret_expires_at"], "RFC 7591 §3.2.1: 0, it does not expire")
	assert.Equal(t, "client_secret_basic", b.body["token_endpoint_auth_method"])
	aURI, bToken := a.body["registration_client_uri"].(string), b.body["registration_access_token"].(string)

	// Management with another client's token, or none: 401 invalid_token.
	for name, tc := range map[string]struct {
		method, token, challenge string
	}{
		"another client's token": {http.MethodGet, bToken, `Bearer realm="authserver registration", error="invalid_token"`},
		"no token":               {http.MethodGet, "", `Bearer realm="authserver registration"`},
		"delete with another's":  {http.MethodDelete, bToken, `Bearer realm="authserver registration", error="invalid_token"`},
		"update with another's":  {http.MethodPut, bToken, `Bearer realm="authserver registration", error="invalid_token"`},
	} {
		t.Run(name, func(t *testing.T) {
			var body any
			if tc.method == http.MethodPut {
				body = obj{"client_id": a.body["client_id"], "client_name": "Hijacked"}
			}
			r := ts.register(t, tc.method, aURI, tc.token, body)
			require.Equal(t, 401, r.status, r.raw)
			assert.Equal(t, "invalid_token", r.body["error"])
			assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), tc.challenge), r.header.Get("WWW-Authenticate"))
		})
	}
	still := ts.register(t, http.MethodGet, aURI, a.body["registration_access_token"].(string), nil)
	require.Equal(t, 200, still.status, "nothing changed")
	assert.Equal(t, "A", still.body["client_name"])

	for name, tc := range map[string]struct {
		body   any
		status int
		code   string
	}{
		"http to another host":     {obj{"redirect_uris": []string{"http://app.example/cb"}}, 400, "invalid_redirect_uri"},
		"a private-use scheme":     {obj{"redirect_uris": []string{"com.example.app:/cb"}, "token_endpoint_auth_method": "none"}, 400, "invalid_redirect_uri"},
		"redirect_uris a string":   {obj{"redirect_uris": "https://app.example/cb"}, 400, "invalid_redirect_uri"},
		"11 redirect URIs":         {obj{"redirect_uris": manyURIs(11)}, 400, "invalid_redirect_uri"},
		"a 3 KB redirect URI":      {obj{"redirect_uris": []string{"https://app.example/" + strings.Repeat("a", 3000)}}, 400, "invalid_redirect_uri"},
		"no redirect URI":          {obj{"client_name": "X"}, 400, "invalid_redirect_uri"},
		"password":                 {obj{"grant_types": []string{"password"}}, 400, "invalid_client_metadata"},
		"client_credentials":       {obj{"grant_types": []string{"client_credentials"}}, 400, "invalid_client_metadata"},
		"implicit, not offered":    {obj{"redirect_uris": []string{"https://a.example/cb"}, "response_types": []string{"token"}}, 400, "invalid_client_metadata"},
		"the admin scope":          {obj{"redirect_uris": []string{"https://a.example/cb"}, "scope": "admin"}, 400, "invalid_client_metadata"},
		"a scope with two spaces":  {obj{"redirect_uris": []string{"https://a.example/cb"}, "scope": "a  b"}, 400, "invalid_client_metadata"},
		"private_key_jwt":          {obj{"redirect_uris": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "private_key_jwt"}, 400, "invalid_client_metadata"},
		"an ID token alg it lacks": {obj{"redirect_uris": []string{"https://a.example/cb"}, "id_token_signed_response_alg": "none"}, 400, "invalid_client_metadata"},
		"http post-logout URI":     {obj{"redirect_uris": []string{"https://a.example/cb"}, "post_logout_redirect_uris": []string{"http://a.example/bye"}}, 400, "invalid_client_metadata"},
		"a name of 201":            {obj{"redirect_uris": []string{"https://a.example/cb"}, "client_name": strings.Repeat("n", 201)}, 400, "invalid_client_metadata"},
		"not JSON":                 {"{", 400, "invalid_client_metadata"},
		"an array":                 {"[]", 400, "invalid_client_metadata"},
		"40 KB":                    {obj{"redirect_uris": []string{"https://a.example/cb"}, "tos_uri": strings.Repeat("x", 40<<10)}, 413, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.register(t, http.MethodPost, "/oauth/register", "", tc.body)
			require.Equal(t, tc.status, r.status, r.raw)
			assert.Equal(t, tc.code, r.body["error"], r.raw)
			assert.NotEmpty(t, r.body["error_description"])
		})
	}
	r := ts.register(t, http.MethodPost, "/oauth/register", "", obj{"redirect_uris": []string{"http://evil.example/cb"}})
	assert.Contains(t, r.body["error_description"], "loopback", "says what would do")
	es := ts.register(t, http.MethodPost, "/oauth/register", "", obj{"redirect_uris": []string{"https://es.example/cb"}, "id_token_signed_response_alg": "ES256"})
	require.Equal(t, 201, es.status, es.raw)
	assert.Equal(t, "ES256", es.body["id_token_signed_response_alg"], "an algorithm the server signs ID tokens with")

	// A PUT names its client and may not choose its secret.
	bURI := b.body["registration_client_uri"].(string)
	for name, body := range map[string]obj{
		"no client_id":        {"redirect_uris": []string{"https://b.example/cb"}},
		"another client_id":   {"client_id": a.body["client_id"], "redirect_uris": []string{"https://b.example/cb"}},
		"a secret of its own": {"client_id": b.body["client_id"], "redirect_uris": []string{"https://b.example/cb"}, "client_secret": "mine"},
	} {
		r := ts.register(t, http.MethodPut, bURI, bToken, body)
		require.Equal(t, 400, r.status, "%s: %s", name, r.raw)
		assert.Equal(t, "invalid_client_metadata", r.body["error"], name)
	}
	ok := ts.register(t, http.MethodPut, bURI, bToken, obj{"client_id": b.body["client_id"], "redirect_uris": []string{"https://b.example/cb"},
		"client_secret": b.body["client_secret"], "client_name": "B2"})
	require.Equal(t, 200, ok.status, ok.raw)
	assert.NotContains(t, ok.body, "client_secret", "its secret stays, unseen")
	tok := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, b.body["client_id"].(string), b.body["client_secret"].(string))
	assert.Equal(t, 400, tok.status, "no client_credentials for it, but its secret authenticates")
	assert.Equal(t, "unauthorized_client", tok.body["error"], tok.raw)
}

func manyURIs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://app.example/%d", i)
	}
	return out
}

// What is not enabled is neither advertised nor served; with an initial
// access token required, the demo's admin-cli has one to give.
func TestRegistrationModes(t *testing.T) {
	off, _ := startAdmin(t)
	_, advertised := off.metadata(t)["registration_endpoint"]
	assert.False(t, advertised, "off by default, and not advertised")
	r := off.register(t, http.MethodPost, "/oauth/register", "", nativeClient("X"))
	assert.Equal(t, 404, r.status, "and not served")

	dir := t.TempDir()
	tokenMode := authserver.DefaultRegistration()
	tokenMode.Mode = authserver.RegistrationToken
	ts := start(t, authserver.WithSecretsDir(dir), authserver.WithRegistration(tokenMode))
	assert.Equal(t, ts.URL+"/oauth/register", ts.metadata(t)["registration_endpoint"])

	r = ts.register(t, http.MethodPost, "/oauth/register", "", nativeClient("X"))
	require.Equal(t, 401, r.status, r.raw)
	assert.Equal(t, `Bearer realm="authserver registration"`, r.header.Get("WWW-Authenticate"))
	plain := grantCC(t, ts, "service", serviceSecret).body["access_token"].(string)
	r = ts.register(t, http.MethodPost, "/oauth/register", plain, nativeClient("X"))
	require.Equal(t, 403, r.status, r.raw)
	assert.Equal(t, `Bearer realm="authserver registration", error="insufficient_scope", scope="register"`, r.header.Get("WWW-Authenticate"))
	r = ts.register(t, http.MethodPost, "/oauth/register", "not-a-token", nativeClient("X"))
	require.Equal(t, 401, r.status, r.raw)
	assert.Equal(t, "invalid_token", r.body["error"])

	raw, err := os.ReadFile(filepath.Join(dir, "admin-cli.secret"))
	require.NoError(t, err)
	adminSecret := strings.TrimSpace(string(raw))
	iat := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"register"}}, "admin-cli", adminSecret)
	require.Equal(t, 200, iat.status, iat.raw)
	initial := iat.body["access_token"].(string)
	r = ts.register(t, http.MethodPost, "/oauth/register", initial, obj{
		"client_name": "Reports", "grant_types": []string{"client_credentials"}, "scope": "current_time",
	})
	require.Equal(t, 201, r.status, "an initial access token may register client_credentials: %s", r.raw)
	cc := grantCC(t, ts, r.body["client_id"].(string), r.body["client_secret"].(string))
	require.Equal(t, 200, cc.status, cc.raw)
	assert.Equal(t, "current_time", cc.body["scope"])
	r = ts.register(t, http.MethodPost, "/oauth/register", initial, obj{"redirect_uris": []string{"com.example.app:/cb"}, "token_endpoint_auth_method": "none"})
	assert.Equal(t, 201, r.status, "and a private-use scheme: %s", r.raw)
}

func (ts *testServer) metadata(t *testing.T) obj {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/.well-known/oauth-authorization-server", nil)
	r := do(t, req)
	require.Equal(t, 200, r.status, r.raw)
	return r.body
}

// 50 registrations at once are 50 clients; 50 deletions of one at once
// are one deletion.
func TestRegistrationRaces(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, append(opts(t), authserver.WithRegistration(openRegistration()))...)
			replies := make([]reply, 50)
			var wg sync.WaitGroup
			for i := range replies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					replies[i] = ts.register(t, http.MethodPost, "/oauth/register", "", nativeClient("racer"))
				}()
			}
			wg.Wait()
			ids := map[string]bool{}
			for _, r := range replies {
				require.Equal(t, 201, r.status, r.raw)
				ids[r.body["client_id"].(string)] = true
			}
			assert.Len(t, ids, 50, "50 distinct clients")

			one := replies[0].body
			var deleted sync.Map
			statuses := make([]int, 50)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := ts.register(t, http.MethodDelete, one["registration_client_uri"].(string), one["registration_access_token"].(string), nil)
					statuses[i] = r.status
					deleted.Store(i, r.raw)
				}()
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				if s == 204 {
					won++
				} else {
					assert.Equal(t, 401, s)
				}
			}
			assert.Equal(t, 1, won, "exactly one deletion")
		})
	}
}

// A flood of registrations from one address is refused past its budget
// (kept in Redis when the rate limits are, as on PostgreSQL+Redis here),
// and one from many addresses past the registry's bound: the clients
// stored, and the server's memory, stay bounded.
func TestRegistrationFlood(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name+": one address", func(t *testing.T) {
			reg := openRegistration()
			reg.PerSourcePerHour = 20
			ts := start(t, append(opts(t), authserver.WithRegistration(reg), authserver.WithTrustedProxies("127.0.0.1"))...)
			created, limited := 0, 0
			for range 200 {
				r := ts.registerFrom(t, "198.51.100.7", http.MethodPost, "/oauth/register", "", nativeClient("flood"))
				switch r.status {
				case 201:
					created++
				case 429:
					limited++
					assert.NotEmpty(t, r.header.Get("Retry-After"))
					assert.Equal(t, "invalid_request", r.body["error"])
				default:
					t.Fatalf("unexpected %d: %s", r.status, r.raw)
				}
			}
			assert.Equal(t, 20, created, "20 an hour from one address")
			assert.Equal(t, 180, limited)
			assert.Contains(t, strings.Join(ts.registerFrom(t, "198.51.100.7", http.MethodPost, "/oauth/register", "", nativeClient("x")).header.Values("Ratelimit-Policy"), ","),
				`"register";q=20;w=3600`, "the budget is announced")
			other := ts.registerFrom(t, "198.51.100.8", http.MethodPost, "/oauth/register", "", nativeClient("another address"))
			require.Equal(t, 201, other.status, "another address has its own budget: %s", other.raw)
		})
	}

	reg := openRegistration()
	reg.MaxClients = 60
	ts := start(t, authserver.WithRegistration(reg), authserver.WithTrustedProxies("127.0.0.1"))
	clients := func() int {
		page, err := ts.srv.Clients().List(t.Context(), authserver.Page{Limit: 1})
		require.NoError(t, err)
		return page.Total
	}
	before := clients()
	var heapBefore, heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
	full := 0
	for i := range 2000 {
		r := ts.registerFrom(t, fmt.Sprintf("10.%d.%d.1", i/250, i%250), http.MethodPost, "/oauth/register", "", nativeClient("many"))
		switch r.status {
		case 201:
		case 503:
			full++
			assert.Equal(t, "temporarily_unavailable", r.body["error"])
		default:
			t.Fatalf("unexpected %d: %s", r.status, r.raw)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	assert.Equal(t, 60, clients(), "the registry holds max_clients, whatever the addresses")
	assert.Equal(t, 2000-(60-before), full, "every registration past the bound refused")
	assert.Less(t, heapAfter.HeapAlloc, heapBefore.HeapAlloc+4<<20,
		"2,000 refused registrations keep under 4 MB (from %d to %d bytes)", heapBefore.HeapAlloc, heapAfter.HeapAlloc)
}

// A PostgreSQL that stalls: a registration is a fast 503 and stores
// nothing; one acknowledged is there after; a deletion that stalls has
// ended the client's tokens already, and the request sent again finishes
// it.
func TestRegistrationFaults(t *testing.T) {
	opt, dsn := durableStorage(t, "", time.Second, 0)
	dir := t.TempDir()
	ts := start(t, opt, authserver.WithSecretsDir(dir), authserver.WithRegistration(openRegistration()))
	count := func() int {
		page, err := ts.srv.Clients().List(t.Context(), authserver.Page{Limit: 1})
		require.NoError(t, err)
		return page.Total
	}
	before := count()

	release := faulttest.LockTable(t, dsn, "clients")
	began := time.Now()
	r := ts.register(t, http.MethodPost, "/oauth/register", "", nativeClient("stalled"))
	release()
	require.Equal(t, 503, r.status, r.raw)
	assert.Less(t, time.Since(began), 5*time.Second, "fast")
	assert.Equal(t, "temporarily_unavailable", r.body["error"])
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, before, count(), "nothing half made")

	raw, err := os.ReadFile(filepath.Join(dir, "admin-cli.secret"))
	require.NoError(t, err)
	iat := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"register"}}, "admin-cli", strings.TrimSpace(string(raw)))
	require.Equal(t, 200, iat.status, iat.raw)
	r = ts.register(t, http.MethodPost, "/oauth/register", iat.body["access_token"].(string), obj{"grant_types": []string{"client_credentials"}})
	require.Equal(t, 201, r.status, "the retry registers: %s", r.raw)
	id, regToken, manage := r.body["client_id"].(string), r.body["registration_access_token"].(string), r.body["registration_client_uri"].(string)
	c, err := ts.srv.Clients().Get(t.Context(), id)
	require.NoError(t, err, "what was acknowledged is stored")
	assert.Equal(t, "registration", string(c.ManagedBy))
	tok := grantCC(t, ts, id, r.body["client_secret"].(string)).body["access_token"].(string)
	require.True(t, ts.introspectActive(t, tok))

	release = faulttest.LockTable(t, dsn, "clients")
	r = ts.register(t, http.MethodDelete, manage, regToken, nil)
	release()
	require.Equal(t, 503, r.status, r.raw)
	assert.False(t, ts.introspectActive(t, tok), "its tokens ended before the client goes")
	r = ts.register(t, http.MethodDelete, manage, regToken, nil)
	require.Equal(t, 204, r.status, "the retry finishes it: %s", r.raw)
	assert.Equal(t, 401, ts.register(t, http.MethodGet, manage, regToken, nil).status)
}
