package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	demoClient, demoSecret = "1234", "qwerty"
	rsClient, rsSecret     = "resourceserver", "resourceserver-secret"
	serviceClient          = "service"
	serviceSecret          = "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e"
)

func passwordToken(t *testing.T, s *system, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := postForm(t, s.auth.url("/oauth/token"), form, demoClient, demoSecret)
	require.Equal(t, 200, r.status, r.raw)
	return r.body["access_token"].(string)
}

// TestCoreFlow is DESIGN.md's core flow: webapp -> password grant -> short
// JWT -> resource server -> introspection -> answer.
func TestCoreFlow(t *testing.T) {
	s := startSystem(t)

	t.Run("webapp current_time with the demo user", func(t *testing.T) {
		r := get(t, s.web.url("/current_time"))
		require.Equal(t, 200, r.status, r.raw)
		ts, err := time.Parse(time.RFC3339, r.body["current_time"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), ts, 30*time.Second, "now, give or take a slow answer")
	})
	t.Run("webapp epoch_time", func(t *testing.T) {
		r := get(t, s.web.url("/epoch_time"))
		require.Equal(t, 200, r.status, r.raw)
		epoch := int64(r.body["epoch_time"].(float64))
		assert.InDelta(t, time.Now().Unix(), epoch, 30, "now, give or take a slow answer")
		assert.NotContains(t, r.raw, ".", "an integer, not a float")
	})
	t.Run("webapp with the user's own Basic credentials", func(t *testing.T) {
		r := get(t, s.web.url("/current_time"), "Authorization", basic("alice", "alice-password"))
		assert.Equal(t, 200, r.status, r.raw)
		r = get(t, s.web.url("/current_time"), "Authorization", basic("alice", "wrong"))
		assert.Equal(t, 401, r.status, r.raw)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
	})

	t.Run("each step by hand", func(t *testing.T) {
		tok := passwordToken(t, s, "")
		intro := postForm(t, s.auth.url("/oauth/introspect"), url.Values{"token": {tok}}, rsClient, rsSecret)
		require.Equal(t, 200, intro.status)
		assert.Equal(t, true, intro.body["active"])
		assert.Equal(t, "current_time epoch_time", intro.body["scope"])
		assert.Equal(t, demoClient, intro.body["client_id"])

		r := get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok)
		assert.Equal(t, 200, r.status, r.raw)
		r = get(t, s.rs.url("/epoch_time"), "Authorization", "Bearer "+tok)
		assert.Equal(t, 200, r.status, r.raw)
	})

	t.Run("token endpoint errors", func(t *testing.T) {
		cases := []struct {
			name       string
			form       url.Values
			user, pass string
			status     int
			code       string
		}{
			{"wrong client secret", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}, demoClient, "wrong", 401, "invalid_client"},
			{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"nope"}}, demoClient, demoSecret, 400, "invalid_grant"},
			{"unknown grant type", url.Values{"grant_type": {"magic"}}, demoClient, demoSecret, 400, "unsupported_grant_type"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := postForm(t, s.auth.url("/oauth/token"), tc.form, tc.user, tc.pass)
				assert.Equal(t, tc.status, r.status, r.raw)
				assert.Equal(t, tc.code, r.body["error"])
				if tc.status == 401 {
					assert.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
				}
			})
		}
	})

	t.Run("token lacking the endpoint's scope", func(t *testing.T) {
		tok := passwordToken(t, s, "epoch_time")
		r := get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok)
		assert.Equal(t, 403, r.status, r.raw)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
		assert.Equal(t, 200, get(t, s.rs.url("/epoch_time"), "Authorization", "Bearer "+tok).status)
	})

	t.Run("missing, malformed and expired tokens", func(t *testing.T) {
		r := get(t, s.rs.url("/current_time"))
		assert.Equal(t, 401, r.status)
		assert.Equal(t, `Bearer realm="resourceserver"`, r.header.Get("WWW-Authenticate"), "no error attribute without a token (RFC 6750 §3.1)")

		r = get(t, s.rs.url("/current_time"), "Authorization", "Bearer not-a-jwt")
		assert.Equal(t, 401, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)

		tok := passwordToken(t, s, "")
		// The e2e authserver caps lifetimes at 2 s (AUTHSERVER_TOKENS_MAX_ACCESS_TTL).
		time.Sleep(3 * time.Second)
		r = get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok)
		assert.Equal(t, 401, r.status, r.raw)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)
	})

	t.Run("no secret or token ever reaches a log", func(t *testing.T) {
		tok := passwordToken(t, s, "")
		get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok)
		for _, p := range []*proc{s.auth, s.rs, s.web} {
			require.NoError(t, p.stop(t), "a clean stop flushes the buffered log")
			logs := p.logs.String()
			require.Contains(t, logs, `"msg":"request"`, "the access log is there to search")
			for _, secret := range []string{demoSecret, "alice-password", rsSecret, serviceSecret, tok, strings.Split(tok, ".")[2]} {
				assert.NotContains(t, logs, secret, "%s logged a secret", p.name)
			}
		}
	})
}

// TestDependenciesDown: a down peer gives a fast, clear 503, never a hang,
// and services shut down cleanly on SIGTERM.
func TestDependenciesDown(t *testing.T) {
	s := startSystem(t)
	require.Equal(t, 200, get(t, s.web.url("/current_time")).status)

	require.NoError(t, s.rs.stop(t), "resourceserver exits 0 on SIGTERM")
	start := time.Now()
	r := get(t, s.web.url("/current_time"))
	assert.Less(t, time.Since(start), 10*time.Second, "fast: no waiting for the 30 s timeouts")
	assert.Equal(t, 503, r.status, r.raw)
	assert.Equal(t, "resourceserver", r.body["service"])

	tok := passwordToken(t, s, "")
	rs := startRS(t, s.auth) // a second one, with nothing in front of it
	require.NoError(t, s.auth.stop(t), "authserver exits 0 on SIGTERM")

	start = time.Now()
	r = get(t, rs.url("/current_time"), "Authorization", "Bearer "+tok)
	assert.Less(t, time.Since(start), 10*time.Second, "fast: no waiting for the 30 s timeouts")
	assert.Equal(t, 503, r.status, "the token may be valid: 503, not 401")
	assert.Equal(t, "temporarily_unavailable", r.body["error"])

	start = time.Now()
	r = get(t, s.web.url("/current_time"))
	assert.Less(t, time.Since(start), 10*time.Second, "fast: no waiting for the 30 s timeouts")
	assert.Equal(t, 503, r.status, r.raw)
	assert.Equal(t, "authserver", r.body["service"])
	assert.NoError(t, s.web.stop(t), "webapp exits 0 on SIGTERM")
}

func basic(user, pass string) string {
	return "Basic " + b64(user+":"+pass)
}
