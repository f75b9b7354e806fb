package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/tlstest"
)

// reloadLine waits for the n-th reload line of p's log and returns it.
func reloadLine(t *testing.T, p *proc, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		var lines []map[string]any
		sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "reload") {
					lines = append(lines, line)
				}
			}
		}
		if len(lines) >= n {
			return lines[n-1]
		}
		require.True(t, time.Now().Before(deadline), "%s logged no reload:\n%s", p.name, p.logs.String())
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReloads sends a real SIGHUP to each real binary: each reloads
// and keeps serving; the authserver serves a client its fixture file
// gained, and refuses a broken file without losing what it had.
func TestSIGHUPReloads(t *testing.T) {
	fixture := filepath.Join(t.TempDir(), "reloaded.yaml")
	require.NoError(t, os.WriteFile(fixture, []byte("{}\n"), 0o600))
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	env["AUTHSERVER_FIXTURES"] = "fixtures/demo.json," + fixture
	auth := startOn(t, "authserver", ln, env)
	rs := startRS(t, auth)
	web := start(t, "webapp", webEnv(auth, rs))

	token := func() int {
		return postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, "sighup-client", serviceSecret).status
	}
	require.Equal(t, 401, token())
	require.NoError(t, os.WriteFile(fixture, []byte(`clients:
  - id: sighup-client
    name: Added by SIGHUP
    type: confidential
    secret_hash: "$hmac-sha256$Oi1q6yMAagDv+YwKKUjb/g$GzOuqgLqRNnNyardXiQ1BCSfgrTokin3halaXSY4owM"
    grant_types: [client_credentials]
    scopes: [current_time]
    default_scopes: [current_time]
`), 0o600))
	require.NoError(t, auth.cmd.Process.Signal(syscall.SIGHUP))
	line := reloadLine(t, auth, 1)
	assert.Equal(t, "reloaded", line["msg"], "%v", line)
	assert.Equal(t, []any{"sighup-client"}, line["clients_added"])
	assert.Equal(t, 200, token(), "the new client is served without a restart")

	require.NoError(t, os.WriteFile(fixture, []byte("clients: [ {"), 0o600))
	require.NoError(t, auth.cmd.Process.Signal(syscall.SIGHUP))
	line = reloadLine(t, auth, 2)
	assert.Equal(t, "reload refused: nothing changed", line["msg"])
	assert.Contains(t, line["error"], "reloaded.yaml")
	assert.Equal(t, 200, token(), "a broken file takes nothing away")

	for _, p := range []*proc{rs, web} {
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
		assert.Equal(t, "reloaded", reloadLine(t, p, 1)["msg"], p.name)
	}
	r := get(t, web.url("/current_time"))
	assert.Equal(t, 200, r.status, "all three still serve the core flow: %s", r.raw)
}

// TestCoreFlowOverTLS runs the core flow with all three services on HTTPS,
// their certificates from a CA the test makes and the services trust
// through their tls.ca_file settings, and checks HTTP/2 on each.
func TestCoreFlowOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert, key := ca.Issue("127.0.0.1", "localhost")
	tlsEnv := func(prefix string, vars map[string]string) map[string]string {
		vars[prefix+"_HTTP_TLS_CERT_FILE"] = cert
		vars[prefix+"_HTTP_TLS_KEY_FILE"] = key
		return vars
	}
	authLn, rsLn, webLn := listen(t), listen(t), listen(t)
	authURL, rsURL, webURL := "https://"+authLn.Addr().String(), "https://"+rsLn.Addr().String(), "https://"+webLn.Addr().String()

	env := authEnv(t, authLn.Addr().String(), t.TempDir())
	env["AUTHSERVER_ISSUER"] = authURL
	startOn(t, "authserver", authLn, tlsEnv("AUTHSERVER", env))
	startOn(t, "resourceserver", rsLn, tlsEnv("RESOURCESERVER", map[string]string{
		"RESOURCESERVER_INTROSPECTION_ENDPOINT":    authURL + "/oauth/introspect",
		"RESOURCESERVER_INTROSPECTION_TIMEOUT":     upstreamTimeout,
		"RESOURCESERVER_INTROSPECTION_TLS_CA_FILE": ca.File,
	}))
	web := startOn(t, "webapp", webLn, tlsEnv("WEBAPP", map[string]string{
		"WEBAPP_AUTHSERVER_TOKEN_URL":       authURL + "/oauth/token",
		"WEBAPP_AUTHSERVER_TIMEOUT":         upstreamTimeout,
		"WEBAPP_AUTHSERVER_TLS_CA_FILE":     ca.File,
		"WEBAPP_RESOURCESERVER_BASE_URL":    rsURL,
		"WEBAPP_RESOURCESERVER_TIMEOUT":     upstreamTimeout,
		"WEBAPP_RESOURCESERVER_TLS_CA_FILE": ca.File,
	}))

	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(), ForceAttemptHTTP2: true}}
	resp, err := c.Get(webURL + "/current_time")
	require.NoError(t, err)
	var body struct {
		CurrentTime string `json:"current_time"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "password grant at the authserver, then the resource server, which introspects: all over TLS")
	ts, err := time.Parse(time.RFC3339, body.CurrentTime)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ts, time.Minute)

	for _, u := range []string{webURL + "/healthz", rsURL + "/healthz", authURL + "/.well-known/oauth-authorization-server"} {
		resp, err := c.Get(u)
		require.NoError(t, err, u)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, u)
		assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 at %s", u)
		assert.GreaterOrEqual(t, resp.TLS.Version, uint16(0x0303), "TLS 1.2 or later at %s", u)
	}

	// Plain HTTP to an HTTPS port is refused, and a client without the CA
	// does not trust the certificate.
	plain := get(t, "http://"+webLn.Addr().String()+"/healthz")
	assert.Equal(t, 400, plain.status)
	_, err = (&http.Client{Timeout: time.Minute}).Get(webURL + "/healthz")
	assert.Error(t, err)
	assert.NotContains(t, web.logs.String(), `"level":"error"`)
}
