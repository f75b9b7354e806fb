package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
)

func fakeEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// client makes the tests' calls; its timeout only turns a hang into a
// failure.
var client = &http.Client{Timeout: servicetest.Bound}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{
		"CONFIG_DIR":          "../../../configs",
		"APP_ENV":             "test",
		"AUTHSERVER_DATA_DIR": t.TempDir(),
	})
	ln := servicetest.Listen(t)
	addr := ln.Addr().String()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln))
	}()
	servicetest.WaitListening(t, &stdout, addr, done)

	resp, err := client.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	resp, err = client.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e")
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	noRedirect := &http.Client{Timeout: servicetest.Bound, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	discovery, err := client.Get("http://" + addr + "/.well-known/openid-configuration")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(discovery.Body).Decode(&doc))
	discovery.Body.Close()
	assert.Equal(t, 200, discovery.StatusCode)
	assert.Equal(t, "http://localhost:5001/oauth/userinfo", doc["userinfo_endpoint"], "the OpenID Connect discovery document is served")

	for _, path := range []string{"/healthz", "/readyz", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
		"/oauth/jwks.json", "/oauth/login", "/oauth/authorize", "/oauth/userinfo", "/oauth/end_session", "/nope"} {
		servertest.HeadLikeGet(t, noRedirect, func(method string) *http.Request {
			req, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
			return req
		})
	}

	resp, err = client.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.True(t, strings.Contains(string(metrics), `http_requests_total{code="200",method="POST",route="/oauth/token"} 1`),
		"the token request is counted under its route pattern")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(servicetest.Bound):
		t.Fatal("run did not return after cancel")
	}
	assert.Contains(t, stdout.String(), `"msg":"stopped"`)
	assert.NotContains(t, stdout.String(), "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e", "secrets never logged")
}

func TestRunConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"bad number":      {map[string]string{"AUTHSERVER_HTTP_MAX_BODY_BYTES": "lots"}, "http.max_body_bytes (from AUTHSERVER_HTTP_MAX_BODY_BYTES)"},
		"bad algorithm":   {map[string]string{"AUTHSERVER_SIGNING_ALGORITHM": "HS256"}, "signing.algorithm (from AUTHSERVER_SIGNING_ALGORITHM)"},
		"bad duration":    {map[string]string{"AUTHSERVER_TOKENS_ACCESS_TTL": "five"}, "tokens.access_ttl"},
		"bad issuer":      {map[string]string{"AUTHSERVER_ISSUER": "localhost"}, "issuer (from AUTHSERVER_ISSUER)"},
		"bad environment": {map[string]string{"APP_ENV": "staging"}, "staging"},
		"missing dir":     {map[string]string{"CONFIG_DIR": "/nonexistent"}, "/nonexistent"},
		"zero rate":       {map[string]string{"AUTHSERVER_RATE_LIMITS_CLIENT_RPS": "0"}, "rate_limits.client_rps (from AUTHSERVER_RATE_LIMITS_CLIENT_RPS)"},
		"bad proxy":       {map[string]string{"AUTHSERVER_HTTP_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"}, `trusted proxy "proxy.example"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test"}
			for k, v := range tc.env {
				env[k] = v
			}
			err := run(context.Background(), []string{"authserver"}, fakeEnv(env), strings.NewReader(""), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRunProductionRefusesHTTPIssuer(t *testing.T) {
	env := fakeEnv(map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "production", "AUTHSERVER_DATA_DIR": t.TempDir()})
	err := run(context.Background(), []string{"authserver"}, env, strings.NewReader(""), io.Discard, io.Discard)
	assert.ErrorContains(t, err, "https")
}

func TestRunProductionServesMetricsApart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{
		"CONFIG_DIR": "../../../configs", "APP_ENV": "production",
		"AUTHSERVER_ISSUER": "https://id.example.com", "AUTHSERVER_DATA_DIR": t.TempDir(),
		"AUTHSERVER_METRICS_TOKEN": "scrape-token-0123456789",
	})
	ln, mln := servicetest.Listen(t), servicetest.Listen(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln), service.WithMetricsListener(mln))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)

	get := func(url, token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusNotFound, get("http://"+ln.Addr().String()+"/metrics", "scrape-token-0123456789"), "not on the public address")
	assert.Equal(t, http.StatusUnauthorized, get("http://"+mln.Addr().String()+"/metrics", ""))
	assert.Equal(t, http.StatusOK, get("http://"+mln.Addr().String()+"/metrics", "scrape-token-0123456789"))
	assert.Equal(t, http.StatusOK, get("http://"+ln.Addr().String()+"/healthz", ""))

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, stdout.String(), `"msg":"metrics listening"`)
	assert.NotContains(t, stdout.String(), "scrape-token-0123456789", "the token is never logged")
}

func TestKeysRotateCommand(t *testing.T) {
	dir := t.TempDir()
	env := fakeEnv(map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test", "AUTHSERVER_DATA_DIR": dir})
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"authserver", "keys", "rotate"}, env, nil, &out, io.Discard))
	assert.Contains(t, out.String(), "new signing key")
	require.FileExists(t, filepath.Join(dir, "signing-keys.json"))

	err := run(context.Background(), []string{"authserver", "keys", "spin"}, env, nil, io.Discard, io.Discard)
	assert.ErrorContains(t, err, "unknown command")
}

func TestHashSecretCommand(t *testing.T) {
	env := fakeEnv(map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test"})
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"authserver", "hash-secret"}, env, strings.NewReader("qwerty\n"), &out, io.Discard))
	assert.True(t, strings.HasPrefix(out.String(), "$argon2id$v=19$m=19456,t=2,p=1$"), out.String())

	err := run(context.Background(), []string{"authserver", "hash-secret", "-fast"}, env, strings.NewReader("short\n"), io.Discard, io.Discard)
	assert.ErrorContains(t, err, "32+")

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"authserver", "hash-secret", "-generate"}, env, nil, &out, io.Discard))
	assert.Contains(t, out.String(), "secret_hash: $hmac-sha256$")
}

func TestAuditSurvivesAQuietLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{
		"CONFIG_DIR": "../../../configs", "APP_ENV": "test",
		"AUTHSERVER_DATA_DIR": t.TempDir(), "AUTHSERVER_LOG_LEVEL": "error",
	})
	ln := servicetest.Listen(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln))
	}()

	// A quiet log has no "listening" line to wait for; the socket is open
	// already, so the request waits in its backlog until the server serves.
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e")
	resp, err := client.Do(req)
	if err != nil {
		select {
		case runErr := <-done:
			t.Fatalf("run returned: %v\n%s", runErr, stdout.String())
		default:
		}
	}
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)

	logs := stdout.String()
	assert.NotContains(t, logs, `"msg":"request"`, "the log is quiet")
	assert.Contains(t, logs, `"event":"token.issued"`, "but the audit trail is whole")
}

// The rate limits and trusted proxies come from the configuration: here a
// client budget of two requests, and the loopback proxy believed.
func TestRunRateLimitsFromConfig(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{
		"CONFIG_DIR":                          "../../../configs",
		"APP_ENV":                             "test",
		"AUTHSERVER_DATA_DIR":                 t.TempDir(),
		"AUTHSERVER_RATE_LIMITS_CLIENT_RPS":   "0.001",
		"AUTHSERVER_RATE_LIMITS_CLIENT_BURST": "2",
		"AUTHSERVER_RATE_LIMITS_SOURCE_BURST": "3",
		"AUTHSERVER_RATE_LIMITS_SOURCE_RPS":   "0.001",
		"AUTHSERVER_HTTP_TRUSTED_PROXIES":     "127.0.0.1",
	})
	ln := servicetest.Listen(t)
	addr := ln.Addr().String()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln))
	}()
	servicetest.WaitListening(t, &stdout, addr, done)

	token := func(forwardedFor string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		req.SetBasicAuth("service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e")
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i := range 2 {
		resp := token("192.0.2.1")
		require.Equal(t, 200, resp.StatusCode, "request %d", i+1)
		assert.Equal(t, []string{`"source";q=3;w=3000`, `"client";q=2;w=2000`}, resp.Header.Values("RateLimit-Policy"))
	}
	resp := token("192.0.2.2")
	assert.Equal(t, 429, resp.StatusCode, "the client's budget of 2 is spent, from whatever address")
	assert.Equal(t, `"client";r=0;t=1000`, resp.Header.Values("RateLimit")[1])

	resp = token("192.0.2.1")
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, []string{`"source";r=0;t=3000`, `"client";r=0;t=1000`}, resp.Header.Values("RateLimit"),
		"192.0.2.1's third request: its address may, its client may not")
	resp = token("192.0.2.1")
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, []string{`"source";r=0;t=1000`}, resp.Header.Values("RateLimit"),
		"192.0.2.1's own budget of 3 is spent: refused before the client is even looked at")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(servicetest.Bound):
		t.Fatal("run did not return after cancel")
	}
}
