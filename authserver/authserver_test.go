package authserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
)

const (
	demoFixtures  = "../configs/fixtures/demo.json"
	extraFixtures = "testdata/extra-clients.yaml"
	serviceSecret = "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e"
	refresherSec  = "refresher-secret-0123456789abcdef0123456789"
)

// testServer runs the library behind a real HTTP server on loopback,
// mounted the way cmd/authserver mounts it.
type testServer struct {
	*httptest.Server
	srv *authserver.Server
}

func start(t *testing.T, opts ...authserver.Option) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	base := []authserver.Option{
		authserver.WithIssuer(ts.URL),
		authserver.WithFixtures(demoFixtures, extraFixtures),
		authserver.WithPasswordHashing(authserver.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4),
	}
	srv, err := authserver.New(context.Background(), append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	r.Mount("/api", srv.APIHandler())
	r.Handle("/.well-known/oauth-authorization-server", srv.MetadataHandler())
	r.Handle("/.well-known/openid-configuration", srv.OpenIDConfigurationHandler())
	ts.Config.Handler = r
	ts.srv = srv
	return ts
}

// placed opens the stores cfg places, for the test (closed when it ends),
// and returns the option that puts a server on them.
func placed(tb testing.TB, cfg storage.Config) authserver.Option {
	tb.Helper()
	set, err := storage.Open(context.Background(), cfg, storage.Env{})
	require.NoError(tb, err)
	tb.Cleanup(set.Close)
	return authserver.WithStores(set.Stores())
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (ts *testServer) post(t *testing.T, path string, form url.Values, basicUser, basicPass string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

func TestTokenEndpointOverHTTP(t *testing.T) {
	ts := start(t)
	pw := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}

	ok := ts.post(t, "/oauth/token", pw, "1234", "qwerty")
	require.Equal(t, 200, ok.status, ok.raw)
	assert.Equal(t, "no-store", ok.header.Get("Cache-Control"), "RFC 6749 §5.1")
	assert.Equal(t, "no-cache", ok.header.Get("Pragma"))
	assert.Equal(t, "application/json", ok.header.Get("Content-Type"))
	assert.Equal(t, "Bearer", ok.body["token_type"])
	assert.EqualValues(t, 5, ok.body["expires_in"])
	assert.Equal(t, "current_time epoch_time", ok.body["scope"])
	assert.NotContains(t, ok.body, "refresh_token", "client 1234 gets no refresh token")

	post := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "client_id": {"1234"}, "client_secret": {"qwerty"}}
	assert.Equal(t, 200, ts.post(t, "/oauth/token", post, "", "").status, "client_secret_post")

	cases := []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		{"wrong client secret", pw, "1234", "wrong", 401, "invalid_client"},
		{"unknown client", pw, "nobody", "x", 401, "invalid_client"},
		{"no client authentication", pw, "", "", 401, "invalid_client"},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, "1234", "qwerty", 400, "invalid_grant"},
		{"unknown grant type", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, "1234", "qwerty", 400, "unsupported_grant_type"},
		{"missing grant type", url.Values{}, "1234", "qwerty", 400, "invalid_request"},
		{"grant not allowed for client", url.Values{"grant_type": {"client_credentials"}}, "1234", "qwerty", 400, "unauthorized_client"},
		{"scope not allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, "service", serviceSecret, 400, "invalid_scope"},
		{"malformed scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"a\"b"}}, "service", serviceSecret, 400, "invalid_scope"},
		{"two auth methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {serviceSecret}}, "service", serviceSecret, 400, "invalid_request"},
		{"bad refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"forged"}}, "refresher", refresherSec, 400, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.post(t, "/oauth/token", tc.form, tc.user, tc.pass)
			assert.Equal(t, tc.status, r.status, r.raw)
			assert.Equal(t, tc.code, r.body["error"])
			assert.NotEmpty(t, r.body["error_description"])
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			if tc.status == 401 {
				assert.Contains(t, r.header.Get("WWW-Authenticate"), "Basic", "RFC 6749 §5.2")
			}
		})
	}

	t.Run("duplicate parameter", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials&scope=a&scope=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("service", serviceSecret)
		r := do(t, req)
		assert.Equal(t, 400, r.status)
		assert.Equal(t, "invalid_request", r.body["error"])
	})
	t.Run("JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("service", serviceSecret)
		r := do(t, req)
		assert.Equal(t, 400, r.status)
		assert.Equal(t, "invalid_request", r.body["error"])
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/oauth/token?grant_type=client_credentials", nil)
		r := do(t, req)
		assert.Equal(t, 405, r.status)
		assert.Equal(t, "invalid_request", r.body["error"])
	})
	t.Run("oversized body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token", strings.NewReader("grant_type=password&username="+strings.Repeat("a", 70<<10)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("service", serviceSecret)
		r := do(t, req)
		assert.Equal(t, 413, r.status)
		assert.Equal(t, "invalid_request", r.body["error"])
	})
}

func TestOAuth2LibraryAsClient(t *testing.T) {
	ts := start(t)
	ctx := context.Background()

	t.Run("client_credentials", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "service", ClientSecret: serviceSecret, TokenURL: ts.URL + "/oauth/token", Scopes: []string{"epoch_time"}}
		tok, err := cc.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "Bearer", tok.TokenType)
		assert.Equal(t, "epoch_time", tok.Extra("scope"))
		assert.WithinDuration(t, time.Now().Add(5*time.Minute), tok.Expiry, 5*time.Second)
	})
	t.Run("client_credentials with client_secret_post", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "service", ClientSecret: serviceSecret, TokenURL: ts.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}
		_, err := cc.Token(ctx)
		require.NoError(t, err)
	})
	t.Run("password", func(t *testing.T) {
		conf := oauth2.Config{ClientID: "1234", ClientSecret: "qwerty", Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth/token"}}
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
		require.NoError(t, err)
		assert.Empty(t, tok.RefreshToken)
		_, err = conf.PasswordCredentialsToken(ctx, "alice", "wrong")
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_grant", re.ErrorCode)
	})
	t.Run("public client", func(t *testing.T) {
		conf := oauth2.Config{ClientID: "public-app", Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
		tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
		require.NoError(t, err)
		assert.Equal(t, "current_time", tok.Extra("scope"))
	})
	t.Run("a TokenSource that refreshes, with rotation", func(t *testing.T) {
		conf := oauth2.Config{ClientID: "refresher", ClientSecret: refresherSec, Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth/token"}}
		first, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
		require.NoError(t, err)
		require.NotEmpty(t, first.RefreshToken)

		// The token lives 1 s, inside x/oauth2's 10 s expiry margin, so every
		// Token() call refreshes.
		src := conf.TokenSource(ctx, first)
		second, err := src.Token()
		require.NoError(t, err)
		assert.NotEqual(t, first.AccessToken, second.AccessToken)
		assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "rotated")
		third, err := src.Token()
		require.NoError(t, err)
		assert.NotEqual(t, second.RefreshToken, third.RefreshToken)

		// Replaying the first refresh token kills the family.
		stale := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken, Expiry: time.Now().Add(-time.Hour)})
		_, err = stale.Token()
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_grant", re.ErrorCode)
		_, err = src.Token()
		require.ErrorAs(t, err, &re, "the legitimate holder's current token was revoked with the family")
	})
}

func TestIntrospectionAndRevocationOverHTTP(t *testing.T) {
	ts := start(t)
	tok := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, tok.status)
	access := tok.body["access_token"].(string)

	r := ts.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
	require.Equal(t, 200, r.status, r.raw)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, true, r.body["active"])
	assert.Equal(t, "current_time epoch_time", r.body["scope"])
	assert.Equal(t, "service", r.body["client_id"])
	assert.Equal(t, "service", r.body["sub"])
	assert.Equal(t, "resourceserver", r.body["aud"])
	assert.Equal(t, ts.URL, r.body["iss"])
	assert.Equal(t, "Bearer", r.body["token_type"])
	for _, k := range []string{"exp", "iat", "jti"} {
		assert.Contains(t, r.body, k)
	}

	inactive := ts.post(t, "/oauth/introspect", url.Values{"token": {"junk"}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, 200, inactive.status)
	assert.JSONEq(t, `{"active":false}`, inactive.raw, "RFC 7662 §2.2: nothing more")

	for name, c := range map[string]struct{ user, pass string }{"unauthenticated": {}, "wrong secret": {"resourceserver", "x"}} {
		t.Run(name, func(t *testing.T) {
			r := ts.post(t, "/oauth/introspect", url.Values{"token": {access}}, c.user, c.pass)
			assert.Equal(t, 401, r.status)
			assert.Equal(t, "invalid_client", r.body["error"])
		})
	}
	pub := ts.post(t, "/oauth/introspect", url.Values{"token": {access}, "client_id": {"public-app"}}, "", "")
	assert.Equal(t, 401, pub.status, "introspection needs a secret")
	missing := ts.post(t, "/oauth/introspect", url.Values{}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, 400, missing.status)
	assert.Equal(t, "invalid_request", missing.body["error"])

	// RFC 7009: revoke, then introspection says inactive at once.
	rv := ts.post(t, "/oauth/revoke", url.Values{"token": {access}, "token_type_hint": {"access_token"}}, "service", serviceSecret)
	assert.Equal(t, 200, rv.status)
	assert.Empty(t, rv.raw)
	after := ts.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
	assert.JSONEq(t, `{"active":false}`, after.raw)

	unknown := ts.post(t, "/oauth/revoke", url.Values{"token": {"never-issued"}}, "service", serviceSecret)
	assert.Equal(t, 200, unknown.status, "RFC 7009 §2.2")
	unauth := ts.post(t, "/oauth/revoke", url.Values{"token": {access}}, "service", "wrong")
	assert.Equal(t, 401, unauth.status)
}

func TestMetadataAndJWKS(t *testing.T) {
	ts := start(t)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/.well-known/oauth-authorization-server", nil)
	md := do(t, req)
	require.Equal(t, 200, md.status)
	assert.Equal(t, ts.URL, md.body["issuer"])
	assert.Equal(t, ts.URL+"/oauth/token", md.body["token_endpoint"])
	assert.Equal(t, ts.URL+"/oauth/introspect", md.body["introspection_endpoint"])
	assert.Equal(t, ts.URL+"/oauth/revoke", md.body["revocation_endpoint"])
	assert.ElementsMatch(t, []any{"authorization_code", "password", "client_credentials", "refresh_token"}, md.body["grant_types_supported"])
	assert.ElementsMatch(t, []any{"current_time", "epoch_time", "openid", "profile", "email"}, md.body["scopes_supported"])
	assert.ElementsMatch(t, []any{"client_secret_basic", "client_secret_post"}, md.body["introspection_endpoint_auth_methods_supported"])
	assert.Equal(t, ts.URL+"/oauth/authorize", md.body["authorization_endpoint"])
	assert.Equal(t, []any{"code"}, md.body["response_types_supported"], "implicit is off unless enabled")
	assert.Equal(t, []any{"S256"}, md.body["code_challenge_methods_supported"])
	assert.Equal(t, true, md.body["authorization_response_iss_parameter_supported"], "RFC 9207")

	// What is not offered is not advertised.
	tokensOnly := start(t, authserver.WithGrants(authserver.GrantClientCredentials))
	req, _ = http.NewRequest(http.MethodGet, tokensOnly.URL+"/.well-known/oauth-authorization-server", nil)
	small := do(t, req)
	assert.Equal(t, []any{"client_credentials"}, small.body["grant_types_supported"])
	assert.NotContains(t, small.body, "authorization_endpoint")
	assert.NotContains(t, small.body, "code_challenge_methods_supported")
	assert.NotContains(t, small.body, "userinfo_endpoint", "no code flow, no OpenID Connect")
	assert.NotContains(t, small.body, "id_token_signing_alg_values_supported")
	req, _ = http.NewRequest(http.MethodGet, tokensOnly.URL+"/oauth/authorize?client_id=webapp-browser", nil)
	assert.Equal(t, 404, do(t, req).status, "and not served")
	req, _ = http.NewRequest(http.MethodGet, tokensOnly.URL+"/.well-known/openid-configuration", nil)
	assert.Equal(t, 404, do(t, req).status, "nor discovered")
	withImplicit := start(t, authserver.WithGrants(authserver.GrantAuthorizationCode, authserver.GrantImplicit))
	req, _ = http.NewRequest(http.MethodGet, withImplicit.URL+"/.well-known/oauth-authorization-server", nil)
	assert.Equal(t, []any{"code", "token"}, do(t, req).body["response_types_supported"])
	assert.NotContains(t, md.body, "registration_endpoint", "registration is off by default")
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/oauth/register", strings.NewReader(`{}`))
	assert.Equal(t, 404, do(t, req).status, "and not served")
	open := authserver.DefaultRegistration()
	open.Mode = authserver.RegistrationOpen
	withRegistration := start(t, authserver.WithRegistration(open))
	req, _ = http.NewRequest(http.MethodGet, withRegistration.URL+"/.well-known/oauth-authorization-server", nil)
	endpoint, _ := do(t, req).body["registration_endpoint"].(string)
	require.Equal(t, withRegistration.URL+"/oauth/register", endpoint, "on, it is advertised")
	req, _ = http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	req.Header.Set("Content-Type", "application/json")
	assert.Equal(t, 201, do(t, req).status, "and what it names works")

	// Verify an issued token with nothing but the published JWKS.
	tok := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	jreq, _ := http.NewRequest(http.MethodGet, md.body["jwks_uri"].(string), nil)
	jwks := do(t, jreq)
	require.Equal(t, 200, jwks.status)
	keys := jwks.body["keys"].([]any)
	require.Len(t, keys, 2, "the access tokens' ES256 key and the ID tokens' RS256 one")
	k := keys[0].(map[string]any)
	if k["kty"] != "EC" {
		k = keys[1].(map[string]any)
	}
	assert.Equal(t, "EC", k["kty"])
	assert.Equal(t, "ES256", k["alg"])
	assert.NotContains(t, k, "d")
	// The uncompressed point: 0x04, then X and Y, 32 bytes each on P-256.
	point := append([]byte{4}, b64int(t, k["x"].(string)).FillBytes(make([]byte, 32))...)
	point = append(point, b64int(t, k["y"].(string)).FillBytes(make([]byte, 32))...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	require.NoError(t, err)
	parsed, err := jwt.Parse(tok.body["access_token"].(string), func(tk *jwt.Token) (any, error) {
		assert.Equal(t, k["kid"], tk.Header["kid"])
		assert.Equal(t, "at+jwt", tk.Header["typ"])
		return pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(ts.URL), jwt.WithAudience("resourceserver"), jwt.WithExpirationRequired())
	require.NoError(t, err)
	assert.True(t, parsed.Valid)
}

func b64int(t *testing.T, s string) *big.Int {
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return new(big.Int).SetBytes(b)
}

func TestKeysSurviveRestartAndRotation(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	first := start(t, authserver.WithKeyFile(keyFile), authserver.WithKeyRefresh(50*time.Millisecond))
	tok := first.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, tok.status)
	access := tok.body["access_token"].(string)

	// A restart (a new server on the same key file, and the same issuer)
	// accepts the token issued before it.
	second := &testServer{Server: first.Server}
	srv, err := authserver.New(context.Background(), authserver.WithIssuer(first.URL), authserver.WithFixtures(demoFixtures),
		authserver.WithKeyFile(keyFile), authserver.WithKeyRefresh(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	first.Config.Handler = r
	intro := second.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, true, intro.body["active"], "a restart does not invalidate issued tokens")

	// `authserver keys rotate` in another process.
	kid, err := authserver.RotateKeys(context.Background(), authserver.WithIssuer(first.URL), authserver.WithKeyFile(keyFile))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		tok := second.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
		header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.body["access_token"].(string), ".")[0])
		return strings.Contains(string(header), kid)
	}, time.Minute, 20*time.Millisecond, "the running server signs with the new key")
	intro = second.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, true, intro.body["active"], "a token of the old key still introspects active")
	jreq, _ := http.NewRequest(http.MethodGet, first.URL+"/oauth/jwks.json", nil)
	assert.Len(t, do(t, jreq).body["keys"], 4, "both generations are published, each an ES256 and an RS256 key")
}

func TestNewRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, opt := range map[string]authserver.Option{
		"issuer with query":     authserver.WithIssuer("https://as.example.com/?x=1"),
		"issuer not a URL":      authserver.WithIssuer("as.example.com"),
		"unknown algorithm":     authserver.WithSigningAlgorithm("HS256"),
		"unknown grant":         authserver.WithGrants("magic"),
		"zero lifetimes":        authserver.WithTokenLifetimes(0, time.Hour, time.Hour),
		"missing fixtures file": authserver.WithFixtures("testdata/nope.json"),
		"nil logger":            authserver.WithLogger(nil),
		"no free attempts":      authserver.WithLoginLimits(authserver.LoginLimits{BaseDelay: time.Second, MaxDelay: time.Minute, Window: time.Hour}),
		"window < max delay": authserver.WithLoginLimits(authserver.LoginLimits{
			PerAccountSource: 1, PerAccount: 1, PerSource: 1, BaseDelay: time.Second, MaxDelay: time.Hour, Window: time.Minute,
		}),
		"short cookie key":  authserver.WithCookieKey([]byte("short")),
		"bad trusted proxy": authserver.WithTrustedProxies("example.com"),
		"bad hash queue":    authserver.WithPasswordQueue(-1, time.Second),
		"nil clock":         authserver.WithClock(nil),
		"empty key file":    authserver.WithKeyFile(""),
		"empty fixtures":    authserver.WithFixtures(""),
		"nil option":        nil,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := authserver.New(ctx, opt)
			assert.Error(t, err)
		})
	}
}

// TestTwoAuthorizationHeadersAreRefused: which of two headers counts would
// depend on who reads them (a proxy in front may read the other), so every
// endpoint that authenticates a client refuses them, even two good ones.
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	ts := start(t)
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("service:"+serviceSecret))
	other := "Basic " + base64.StdEncoding.EncodeToString([]byte("resourceserver:resourceserver-secret"))
	for path, form := range map[string]url.Values{
		"/oauth/token":      {"grant_type": {"client_credentials"}},
		"/oauth/introspect": {"token": {"x"}},
		"/oauth/revoke":     {"token": {"x"}},
	} {
		for name, headers := range map[string][]string{"the same twice": {good, good}, "two clients": {other, good}} {
			t.Run(path+" "+name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for _, h := range headers {
					req.Header.Add("Authorization", h)
				}
				r := do(t, req)
				assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
				assert.Equal(t, "invalid_request", r.body["error"])
				assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			})
		}
		t.Run(path+" one header", func(t *testing.T) {
			r := ts.post(t, path, form, "service", serviceSecret)
			assert.Equal(t, http.StatusOK, r.status, r.raw)
		})
	}
}
