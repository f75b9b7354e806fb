package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The admin API and CLI on the real binaries: admin-cli's generated
// secret from the data directory, a client made and its token used at the
// resource server, deleted and its token dead there at once; the race of
// one id; and, on PostgreSQL, the CLI changing what the running server
// serves.

// envOf is the value of k in p's environment.
func envOf(p *proc, k string) string {
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// adminToken gets an access token as admin-cli, with the secret the
// server generated into its data directory.
func adminToken(t *testing.T, auth *proc) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(envOf(auth, "AUTHSERVER_DATA_DIR"), "admin-cli.secret"))
	require.NoError(t, err, "admin-cli's secret is generated at the first start")
	info, err := os.Stat(filepath.Join(envOf(auth, "AUTHSERVER_DATA_DIR"), "admin-cli.secret"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	r := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, "admin-cli", strings.TrimSpace(string(raw)))
	require.Equal(t, 200, r.status, r.raw)
	return r.body["access_token"].(string)
}

type jsonObj = map[string]any

func clientToken(t *testing.T, auth *proc, id, secret string) response {
	t.Helper()
	return postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, id, secret)
}

func TestAdminAPIOnTheBinaries(t *testing.T) {
	s := startSystemWith(t, map[string]string{"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "1h"})
	admin := adminToken(t, s.auth)

	plain := clientToken(t, s.auth, serviceClient, serviceSecret).body["access_token"].(string)
	r := apiCall(t, s.auth, http.MethodGet, "/admin/clients", plain, nil)
	require.Equal(t, 403, r.status, "a token without the admin scope: %s", r.raw)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="insufficient_scope", scope="admin"`)

	r = apiCall(t, s.auth, http.MethodPost, "/admin/clients", admin, jsonObj{
		"id": "nightly-report", "name": "Nightly report", "type": "confidential",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"current_time"},
	})
	require.Equal(t, 201, r.status, r.raw)
	secret := r.body["result"].(jsonObj)["client_secret"].(string)
	tok := clientToken(t, s.auth, "nightly-report", secret)
	require.Equal(t, 200, tok.status, "the new client gets a token: %s", tok.raw)
	access := tok.body["access_token"].(string)
	require.Equal(t, 200, resource(t, s.rs, access), "and the resource server takes it")
	assert.NotContains(t, s.auth.logs.String(), secret, "the secret is never logged")
	adminSecret, err := os.ReadFile(filepath.Join(envOf(s.auth, "AUTHSERVER_DATA_DIR"), "admin-cli.secret"))
	require.NoError(t, err)
	assert.NotContains(t, s.auth.logs.String(), strings.TrimSpace(string(adminSecret)), "nor admin-cli's")

	// 50 creations of one id at once: one 201.
	statuses := make([]int, 50)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = apiCall(t, s.auth, http.MethodPost, "/admin/clients", admin, jsonObj{
				"id": "contested", "name": fmt.Sprintf("racer %d", i), "type": "public", "grant_types": []string{},
			}).status
		})
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		if st == 201 {
			created++
		} else {
			assert.Equal(t, 409, st)
		}
	}
	assert.Equal(t, 1, created, "%v", statuses)

	r = apiCall(t, s.auth, http.MethodDelete, "/admin/clients/nightly-report", admin, nil)
	require.Equal(t, 204, r.status, r.raw)
	assert.Equal(t, 401, resource(t, s.rs, access), "a deleted client's token dies at the resource server at once")
	intro := postForm(t, s.auth.url("/oauth/introspect"), url.Values{"token": {access}}, rsClient, rsSecret)
	assert.JSONEq(t, `{"active":false}`, intro.raw)

	// A user made by the admin API signs in through the webapp; deleted,
	// their token dies too.
	r = apiCall(t, s.auth, http.MethodPost, "/admin/users", admin, jsonObj{"name": "nora", "password": "nora-password-1"})
	require.Equal(t, 201, r.status, r.raw)
	nora := r.body["result"].(jsonObj)["id"].(string)
	assert.Equal(t, 200, get(t, s.web.url("/current_time"), "Authorization", basic("nora", "nora-password-1")).status)
	userTok := userToken(t, s.auth, "nora", "nora-password-1")
	require.Equal(t, 200, resource(t, s.rs, userTok))
	require.Equal(t, 204, apiCall(t, s.auth, http.MethodDelete, "/admin/users/"+nora, admin, nil).status)
	assert.Equal(t, 401, resource(t, s.rs, userTok))
}

// cliIn runs the authserver binary with p's environment, stdin and args.
func cliIn(t *testing.T, p *proc, stdin string, args ...string) (string, error) {
	t.Helper()
	c := exec.Command(binary(t, p.name), args...)
	c.Env = p.env
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	return string(out), err
}

func TestAdminCLIOnPostgres(t *testing.T) {
	d := needDurable(t)
	ln := listen(t)
	env := d.env(t, ln.Addr().String())
	env["AUTHSERVER_DATA_DIR"] = t.TempDir()
	auth := startOn(t, "authserver", ln, env)
	rs := startRS(t, auth)

	out, err := cliIn(t, auth, "", "clients", "add", "-id", "cli-made", "-name", "Made by the CLI",
		"-grant", "client_credentials", "-scope", "current_time")
	require.NoError(t, err, out)
	var secret string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"client_secret": "`); ok {
			secret = strings.TrimSuffix(v, `",`)
		}
	}
	require.NotEmpty(t, secret, out)
	tok := clientToken(t, auth, "cli-made", secret)
	require.Equal(t, 200, tok.status, "the running server serves what the CLI made: %s", tok.raw)
	access := tok.body["access_token"].(string)
	require.Equal(t, 200, resource(t, rs, access))

	out, err = cliIn(t, auth, "", "clients", "list")
	require.NoError(t, err, out)
	assert.Contains(t, out, "cli-made")
	assert.Contains(t, out, "admin-cli")

	out, err = cliIn(t, auth, "olga-password-1\n", "users", "add", "-admin", "olga")
	require.NoError(t, err, out)
	session := apiLogin(t, auth, "olga", "olga-password-1")
	r := apiCall(t, auth, http.MethodGet, "/admin/clients/cli-made", session, nil)
	require.Equal(t, 200, r.status, "an administrator the CLI made, signed in: %s", r.raw)

	out, err = cliIn(t, auth, "", "clients", "rm", "cli-made")
	require.NoError(t, err, out)
	assert.Equal(t, 401, resource(t, rs, access), "a client the CLI deleted: its token dies at once on the running server")
	// The running server may still accept the client from its cache for
	// storage.client_cache_ttl; whatever it issues meanwhile is dead too.
	if late := clientToken(t, auth, "cli-made", secret); late.status == 200 {
		assert.Equal(t, 401, resource(t, rs, late.body["access_token"].(string)))
	}
	out, err = cliIn(t, auth, "", "clients", "rm", "1234")
	require.Error(t, err)
	assert.Contains(t, out, "managed by the configuration")
}
