package e2e

import (
	"context"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/faulttest"
)

// revocationsEnv keeps revocations in the given Redis (by its unix://
// URL), everything else in memory, for a server at addr.
func revocationsEnv(t *testing.T, r *faulttest.Redis, addr string) map[string]string {
	e := authEnv(t, addr, t.TempDir())
	e["AUTHSERVER_STORAGE_GROUPS"] = "revocations=redis"
	e["AUTHSERVER_REDIS_URL"] = r.URL()
	return e
}

// The binary refuses to keep revocations in a Redis that keeps nothing,
// and says how to fix it.
func TestRevocationsRefuseARedisWithoutAOF(t *testing.T) {
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, "authserver"))
	vars := map[string]string{"CONFIG_DIR": filepath.Join(repoRoot, "configs"), "APP_ENV": "test"}
	for k, v := range revocationsEnv(t, r, "127.0.0.1:0") {
		vars[k] = v
	}
	cmd.Env = childEnv(vars)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the server must not start:\n%s", out)
	assert.Contains(t, string(out), "put revocations in postgres, or run Redis with appendonly yes and appendfsync everysec")
}

// A token revoked before Redis is killed (kill -9, its AOF synced every
// second) is still revoked when Redis is back: the resource server's
// introspection never sees it active again.
func TestRevocationsSurviveRedisKill9(t *testing.T) {
	r := faulttest.StartRedis(t, faulttest.RedisOptions{AOF: true})
	ln := listen(t)
	auth := startOn(t, "authserver", ln, revocationsEnv(t, r, ln.Addr().String()))

	tok := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret)
	require.Equal(t, 200, tok.status, tok.raw)
	access := tok.body["access_token"].(string)
	introspect := func() response {
		return postForm(t, auth.url("/oauth/introspect"), url.Values{"token": {access}}, rsClient, rsSecret)
	}
	require.Equal(t, true, introspect().body["active"])
	require.Equal(t, 200, postForm(t, auth.url("/oauth/revoke"), url.Values{"token": {access}}, serviceClient, serviceSecret).status)
	require.JSONEq(t, `{"active":false}`, introspect().raw)

	time.Sleep(1100 * time.Millisecond) // appendfsync everysec
	r.Kill()
	assert.Equal(t, 503, introspect().status, "Redis down: unavailable, never active")
	r.Start()
	require.Eventually(t, func() bool {
		got := introspect()
		assert.NotEqual(t, true, got.body["active"], "the revoked token came back to life")
		return got.status == 200
	}, 10*time.Second, 50*time.Millisecond)
	assert.JSONEq(t, `{"active":false}`, introspect().raw)
}
