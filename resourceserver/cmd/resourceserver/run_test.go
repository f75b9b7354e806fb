package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
)

func fakeGetenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeAuthserver answers introspection for the resourceserver client: the
// token "good" is active with scope current_time, any other is not.
func fakeAuthserver(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if r.URL.Path != "/oauth/introspect" || !ok || id != "resourceserver" || secret != "resourceserver-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") == "good" {
			_, _ = io.WriteString(w, `{"active":true,"scope":"current_time","client_id":"1234","sub":"alice","aud":"resourceserver","token_type":"Bearer"}`)
			return
		}
		_, _ = io.WriteString(w, `{"active":false}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunServesAndShutsDown(t *testing.T) {
	as := fakeAuthserver(t)
	var stdout, stderr servertest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	getenv := fakeGetenv(map[string]string{
		"CONFIG_DIR":                            "../../../configs",
		"APP_ENV":                               "test",
		"RESOURCESERVER_INTROSPECTION_ENDPOINT": as.URL + "/oauth/introspect",
		// Far above what a call to the fake takes on a loaded machine.
		"RESOURCESERVER_INTROSPECTION_TIMEOUT": "30s",
	})
	ln := servicetest.Listen(t)
	go func() {
		done <- run(ctx, []string{"resourceserver"}, getenv, &stdout, &stderr, service.WithListener(ln))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)
	base := "http://" + ln.Addr().String()

	get := func(path, token string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: servicetest.Bound}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := get("/current_time", "good")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var ct struct {
		CurrentTime string `json:"current_time"`
	}
	require.NoError(t, json.Unmarshal(body, &ct))
	got, err := time.Parse(time.RFC3339, ct.CurrentTime)
	require.NoError(t, err, "RFC 3339: %q", ct.CurrentTime)
	assert.WithinDuration(t, time.Now(), got, 30*time.Second, "now, give or take a slow answer")
	assert.True(t, strings.HasSuffix(ct.CurrentTime, "Z"), "UTC")

	// The same token lacks epoch_time; a bad one is refused; the fake is asked each time.
	resp, _ = get("/epoch_time", "good")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, `Bearer realm="resourceserver", error="insufficient_scope", scope="epoch_time"`, resp.Header.Get("WWW-Authenticate"))
	resp, _ = get("/current_time", "bad")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = get("/nope", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = get("/metrics", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `route="/current_time"`)

	// HEAD wherever GET is served.
	for path, token := range map[string]string{"/current_time": "good", "/epoch_time": "good", "/healthz": "", "/readyz": "", "/nope": ""} {
		servertest.HeadLikeGet(t, &http.Client{Timeout: servicetest.Bound}, func(method string) *http.Request {
			req, _ := http.NewRequestWithContext(ctx, method, base+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return req
		})
	}

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "graceful shutdown")
	case <-time.After(servicetest.Bound):
		t.Fatal("run did not return after cancel")
	}
	logs := stdout.String()
	assert.Contains(t, logs, `"msg":"stopped"`)
	assert.Contains(t, logs, `"client_id":"1234"`)
	assert.Contains(t, logs, `"user_id":"alice"`)
	assert.NotContains(t, logs, "resourceserver-secret", "the secret is never logged")
	assert.NotContains(t, logs, `"good"`, "the token is never logged")
}

func TestRunRejectsBadConfig(t *testing.T) {
	base := map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test"}
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string
	}{
		{name: "max body bytes not a number", env: map[string]string{"RESOURCESERVER_HTTP_MAX_BODY_BYTES": "abc"},
			wantErr: []string{"http.max_body_bytes", "RESOURCESERVER_HTTP_MAX_BODY_BYTES"}},
		{name: "timeout not a duration", env: map[string]string{"RESOURCESERVER_INTROSPECTION_TIMEOUT": "soon"},
			wantErr: []string{"introspection.timeout", "RESOURCESERVER_INTROSPECTION_TIMEOUT"}},
		{name: "endpoint not http", env: map[string]string{"RESOURCESERVER_INTROSPECTION_ENDPOINT": "ftp://authserver/introspect"},
			wantErr: []string{"introspection.endpoint"}},
		{name: "bad log level", env: map[string]string{"RESOURCESERVER_LOG_LEVEL": "loud"},
			wantErr: []string{"log.level"}},
		{name: "unknown environment", env: map[string]string{"APP_ENV": "staging"},
			wantErr: []string{"staging"}},
		{name: "missing config dir", env: map[string]string{"CONFIG_DIR": "no/such/dir"},
			wantErr: []string{"no/such/dir"}},
		{name: "production without a secret", env: map[string]string{"APP_ENV": "production"},
			wantErr: []string{"introspection.client_secret", "RESOURCESERVER_INTROSPECTION_CLIENT_SECRET"}},
		{name: "production with the demo secret", env: map[string]string{"APP_ENV": "production", "RESOURCESERVER_INTROSPECTION_CLIENT_SECRET": "resourceserver-secret"},
			wantErr: []string{"demo secret", "RESOURCESERVER_INTROSPECTION_CLIENT_SECRET"}},
		{name: "production env from the flag", env: map[string]string{}, args: []string{"-env", "production"},
			wantErr: []string{"RESOURCESERVER_INTROSPECTION_CLIENT_SECRET"}},
		{name: "stray argument", env: map[string]string{}, args: []string{"serve"},
			wantErr: []string{"unexpected arguments"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range base {
				vars[k] = v
			}
			for k, v := range tc.env {
				vars[k] = v
			}
			var stdout, stderr servertest.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"resourceserver"}, tc.args...), fakeGetenv(vars), &stdout, &stderr)
			require.Error(t, err)
			for _, want := range tc.wantErr {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, stdout.String(), `"msg":"listening"`, "nothing starts on a bad config")
		})
	}
}

func TestProductionStartsWithARealSecret(t *testing.T) {
	var stdout, stderr servertest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := fakeGetenv(map[string]string{
		"CONFIG_DIR": "../../../configs", "APP_ENV": "production",
		"RESOURCESERVER_INTROSPECTION_CLIENT_SECRET": "a-real-secret-from-the-vault",
	})
	ln, mln := servicetest.Listen(t), servicetest.Listen(t)
	go func() {
		done <- run(ctx, []string{"resourceserver"}, getenv, &stdout, &stderr, service.WithListener(ln), service.WithMetricsListener(mln))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)

	// Production serves the metrics apart (metrics.addr), not on the
	// public address.
	c := &http.Client{Timeout: servicetest.Bound}
	resp, err := c.Get("http://" + ln.Addr().String() + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = c.Get("http://" + mln.Addr().String() + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "go_goroutines")

	cancel()
	require.NoError(t, <-done)
	assert.NotContains(t, stdout.String(), "a-real-secret-from-the-vault")
	assert.NotContains(t, stdout.String(), httpserver.PublicMetricsWarning)
}
