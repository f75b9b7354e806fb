package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
	"github.com/oauth2ref/webapp/internal/upstreamtest"
)

// started is a webapp running in-process.
type started struct {
	url string
	// metricsURL is where the metrics are when metrics.addr is set.
	metricsURL string
	logs       *servertest.Buffer
	stop       context.CancelFunc
	done       chan error
}

// start runs the webapp on a socket of its own; see startOn.
func start(t *testing.T, env map[string]string) *started {
	t.Helper()
	return startOn(t, servicetest.Listen(t), env)
}

// startOn runs the webapp on ln with env on top of a test environment
// (configs/webapp.test.json, with upstream timeouts no loaded machine
// reaches), waits until it serves, and stops it when the test ends.
func startOn(t *testing.T, ln net.Listener, env map[string]string) *started {
	t.Helper()
	vars := map[string]string{
		"CONFIG_DIR":                    "../../../configs",
		"APP_ENV":                       "test",
		"WEBAPP_AUTHSERVER_TIMEOUT":     "30s",
		"WEBAPP_RESOURCESERVER_TIMEOUT": "30s",
		// Longer than the authserver timeout, as the config requires.
		"WEBAPP_REDIS_LOCK_LEASE": "1m",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	mln := servicetest.Listen(t) // served on only when metrics.addr is set
	s := &started{url: "http://" + ln.Addr().String(), metricsURL: "http://" + mln.Addr().String(),
		logs: &servertest.Buffer{}, stop: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, []string{"webapp"}, func(k string) string { return vars[k] }, s.logs, io.Discard,
			service.WithListener(ln), service.WithMetricsListener(mln))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done: //nolint:errcheck // only waits for run to end; start and the tests check its error
		case <-time.After(servicetest.Bound):
			t.Error("run did not return after cancel")
		}
	})

	deadline := time.After(servicetest.Bound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if addr := listeningAddr(s.logs.String()); addr != "" {
			require.Equal(t, ln.Addr().String(), addr, "run serves on the socket it was given")
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err // for the cleanup
			t.Fatalf("run returned before listening: %v\n%s", err, s.logs.String())
		case <-deadline:
			t.Fatalf("no listening line in the logs:\n%s", s.logs.String())
		case <-tick.C:
		}
	}
}

// listeningAddr finds the servicetest.Bound address in the JSON log line that says so.
func listeningAddr(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
			return entry.Addr
		}
	}
	return ""
}

func get(t *testing.T, url string, basic ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := (&http.Client{Timeout: servicetest.Bound}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// The core flow against the real authserver (client 1234, the password
// grant) and a resource server that introspects at it.
func TestRunServesTheCoreFlow(t *testing.T) {
	ln := servicetest.Listen(t)
	as, env := upstreams(t, ln.Addr().String(), 0)
	s := startOn(t, ln, env)

	cases := []struct {
		name   string
		basic  []string
		status int
		body   string
	}{
		{"demo user", nil, 200, upstreamtest.CurrentTimeBody},
		{"basic credentials", []string{"alice", "alice-password"}, 200, upstreamtest.CurrentTimeBody},
		{"wrong password", []string{"alice", "wrong"}, 401,
			`{"error":"invalid_credentials","error_description":"wrong username or password","service":"authserver"}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, s.url+"/current_time", tc.basic...)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.body, body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))
		})
	}

	for _, path := range []string{"/current_time", "/epoch_time", "/healthz", "/readyz", "/nope"} {
		servertest.HeadLikeGet(t, &http.Client{Timeout: servicetest.Bound}, func(method string) *http.Request {
			req, _ := http.NewRequestWithContext(t.Context(), method, s.url+path, nil)
			return req
		})
	}

	assert.NotContains(t, s.logs.String(), "qwerty", "no client secret in the logs")
	assert.NotContains(t, s.logs.String(), "alice-password", "no password in the logs")
	issued := as.Issued()
	require.NotEmpty(t, issued)
	for _, tok := range issued {
		assert.NotContains(t, s.logs.String(), tok.AccessToken, "no token in the logs")
	}
	for _, e := range as.TokenRequests("password") {
		assert.Contains(t, []string{"current_time", "epoch_time"}, e.Form.Get("scope"), "a token for just the scope the endpoint needs")
	}

	s.stop()
	select {
	case err := <-s.done:
		assert.NoError(t, err, "a graceful stop is not an error")
		s.done <- err // for the cleanup
	case <-time.After(servicetest.Bound):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunAnswersFastWhenAnUpstreamIsDown(t *testing.T) {
	as, _ := upstreams(t, "127.0.0.1:5003", 0)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	cases := []struct {
		name, tokenURL, resourceURL, service string
	}{
		{"resource server down", as.URL + "/oauth/token", down.URL, "resourceserver"},
		{"authserver down", down.URL + "/oauth/token", down.URL, "authserver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, map[string]string{
				"WEBAPP_AUTHSERVER_TOKEN_URL":    tc.tokenURL,
				"WEBAPP_RESOURCESERVER_BASE_URL": tc.resourceURL,
			})
			begin := time.Now()
			resp, body := get(t, s.url+"/current_time")
			assert.Less(t, time.Since(begin), 10*time.Second, "fast: a refused connection, no waiting for the 30 s timeout")
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Equal(t, "1", resp.Header.Get("Retry-After"))
			var got map[string]string
			require.NoError(t, json.Unmarshal([]byte(body), &got))
			assert.Equal(t, "unavailable", got["error"])
			assert.Equal(t, tc.service, got["service"])
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"production with the demo secret",
			map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "qwerty"},
			[]string{"authserver.client_secret is the public demo secret"}},
		{"production with no secret",
			map[string]string{"APP_ENV": "production"},
			[]string{"authserver.client_secret is empty", "WEBAPP_AUTHSERVER_CLIENT_SECRET"}},
		{"production with a demo user",
			map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret", "WEBAPP_DEMO_USER_USERNAME": "alice", "WEBAPP_DEMO_USER_PASSWORD": "pw"},
			[]string{"demo_user is set, which production refuses"}},
		{"bad duration names the field and its source",
			map[string]string{"WEBAPP_AUTHSERVER_TIMEOUT": "soon"},
			[]string{"authserver.timeout", "WEBAPP_AUTHSERVER_TIMEOUT"}},
		{"zero timeout",
			map[string]string{"WEBAPP_RESOURCESERVER_TIMEOUT": "0s"},
			[]string{"resourceserver.timeout must be positive"}},
		{"bad URL",
			map[string]string{"WEBAPP_RESOURCESERVER_BASE_URL": "localhost:5002"},
			[]string{"resourceserver.base_url"}},
		{"demo user without a password",
			map[string]string{"WEBAPP_DEMO_USER": `{"username":"bob","password":""}`},
			[]string{"demo_user.password"}},
		{"a short metrics token",
			map[string]string{"WEBAPP_METRICS_TOKEN": "guessable"},
			[]string{"metrics.token", "WEBAPP_METRICS_TOKEN"}},
		{"unknown environment",
			map[string]string{"APP_ENV": "staging"},
			[]string{"unknown environment"}},
		{"missing config dir",
			map[string]string{"CONFIG_DIR": "no-such-dir"},
			[]string{"no such file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test", "WEBAPP_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range tc.env {
				vars[k] = v
			}
			var logs servertest.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := run(ctx, []string{"webapp"}, func(k string) string { return vars[k] }, &logs, io.Discard)
			require.Error(t, err, "run must refuse to start")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, listeningAddr(logs.String()), "nothing was served")
		})
	}
}

func TestRunStartsInProductionWithARealSecret(t *testing.T) {
	s := start(t, map[string]string{"APP_ENV": "production", "WEBAPP_AUTHSERVER_CLIENT_SECRET": "a-real-secret"})
	resp, body := get(t, s.url+"/current_time")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no demo user in production")
	assert.Equal(t, `Basic realm="webapp", charset="UTF-8"`, resp.Header.Get("WWW-Authenticate"))
	assert.Contains(t, body, `"error":"invalid_credentials"`)
	assert.NotContains(t, s.logs.String(), "a-real-secret")

	// Production serves the metrics apart (metrics.addr), not on the
	// public address.
	resp, _ = get(t, s.url+"/metrics")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = get(t, s.metricsURL+"/metrics")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `route="/current_time"`)
}

func TestRunMetricsBehindAToken(t *testing.T) {
	s := start(t, map[string]string{"WEBAPP_METRICS_TOKEN": "scrape-token-0123456789"})
	resp, _ := get(t, s.url+"/metrics")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer scrape-token-0123456789")
	resp, err = (&http.Client{Timeout: servicetest.Bound}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotContains(t, s.logs.String(), "scrape-token-0123456789", "the token is never logged")
}
