package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/authserver/authservertest"
	"github.com/oauth2ref/authserver/internal/faulttest"
)

// durable gives a test its own PostgreSQL database and Redis key prefix,
// on the servers named by AUTHSERVER_POSTGRES_DSN and AUTHSERVER_REDIS_URL
// (or the standard loopback ports). Without them the test is skipped,
// except under CI, where a missing server is a failure.
type durable struct {
	pgDSN    string // the test's own database
	redisURL string
	prefix   string
	pgAddr   string // host:port of PostgreSQL
	redisAdr string
}

func needDurable(t *testing.T) *durable {
	t.Helper()
	redisURL := envOr("AUTHSERVER_REDIS_URL", "redis://127.0.0.1:6379/0")
	// A server that is not there refuses at once; the bound is for one
	// that is there, and slow to answer on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := goredis.NewClient(mustRedisOpts(t, redisURL))
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		faulttest.Unavailable(t, "Redis not reachable at %s; set AUTHSERVER_REDIS_URL: %v", faulttest.Redact(redisURL), err)
	}
	dsn := faulttest.NewDatabase(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err, "a URL DSN")

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "e2e:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		c := goredis.NewClient(mustRedisOpts(t, redisURL))
		defer c.Close()
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	return &durable{pgDSN: dsn, redisURL: redisURL, prefix: prefix, pgAddr: u.Host, redisAdr: mustRedisOpts(t, redisURL).Addr}
}

func mustRedisOpts(t *testing.T, u string) *goredis.Options {
	o, err := goredis.ParseURL(u)
	require.NoError(t, err)
	return o
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// env is the authserver environment for PostgreSQL with the expiring
// groups in Redis, the setup of several replicas behind a load balancer.
// Revocations stay in PostgreSQL: the shared test Redis keeps nothing on
// disk, and the server refuses to keep them in such a Redis.
func (d *durable) env(t *testing.T, addr string) map[string]string {
	e := authEnv(t, addr, "")
	e["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	e["AUTHSERVER_STORAGE_DEFAULT"] = "postgres"
	e["AUTHSERVER_STORAGE_GROUPS"] = "codes=redis,sessions=redis,rate_limits=redis"
	e["AUTHSERVER_POSTGRES_DSN"] = d.pgDSN
	e["AUTHSERVER_REDIS_URL"] = d.redisURL
	e["AUTHSERVER_REDIS_KEY_PREFIX"] = d.prefix
	e["AUTHSERVER_SIGNING_REFRESH_INTERVAL"] = "1s"
	// Far above what a statement takes on a loaded machine; a backend that
	// is down refuses the connection, which takes no time.
	e["AUTHSERVER_POSTGRES_QUERY_TIMEOUT"] = "30s"
	e["AUTHSERVER_REDIS_TIMEOUT"] = "30s"
	return e
}

func TestTwoReplicasActAsOne(t *testing.T) {
	d := needDurable(t)
	// Two replicas behind one load balancer: one issuer, two addresses.
	replica := func() *proc {
		ln := listen(t)
		env := d.env(t, ln.Addr().String())
		env["AUTHSERVER_ISSUER"] = "https://auth.example.test"
		return startOn(t, "authserver", ln, env)
	}
	a, b := replica(), replica()
	ctx := context.Background()

	// A token issued by one introspects active on the other.
	tok := postForm(t, a.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret)
	require.Equal(t, 200, tok.status, tok.raw)
	access := tok.body["access_token"].(string)
	intro := postForm(t, b.url("/oauth/introspect"), url.Values{"token": {access}}, rsClient, rsSecret)
	assert.Equal(t, true, intro.body["active"], "replica b trusts replica a's signature")

	// A revocation on one is seen by the other at once.
	require.Equal(t, 200, postForm(t, b.url("/oauth/revoke"), url.Values{"token": {access}}, serviceClient, serviceSecret).status)
	intro = postForm(t, a.url("/oauth/introspect"), url.Values{"token": {access}}, rsClient, rsSecret)
	assert.JSONEq(t, `{"active":false}`, intro.raw)

	// The same refresh token presented to both at once succeeds once.
	conf := oauth2.Config{ClientID: refresherClient, ClientSecret: refresherSecret, Endpoint: oauth2.Endpoint{TokenURL: a.url("/oauth/token")}}
	for round := 0; round < 5; round++ {
		first, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
		require.NoError(t, err)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, p := range []*proc{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = postForm(t, p.url("/oauth/token"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}, refresherClient, refresherSecret).status
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == 200 {
				ok++
			} else {
				assert.Equal(t, 400, s)
			}
		}
		assert.Equal(t, 1, ok, "round %d: exactly one replica rotates the token (%v)", round, statuses)
	}

	// A key rotated through one replica's store is used and published by both.
	cmd := a.cli(t, "keys", "rotate")
	require.Contains(t, cmd, "new signing key")
	kidNew := strings.Fields(strings.TrimPrefix(cmd, "new signing key "))[0]
	kidNew = strings.TrimSuffix(kidNew, ";")
	require.Eventually(t, func() bool {
		r := postForm(t, b.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret)
		return r.status == 200 && kid(t, r.body["access_token"].(string)) == kidNew
	}, time.Minute, 100*time.Millisecond, "replica b signs with the key rotated through a")
}

func TestDurableRestartKeepsEverything(t *testing.T) {
	d := needDurable(t)
	ln := listen(t)
	addr := ln.Addr().String()
	auth := startOn(t, "authserver", ln, d.env(t, addr))
	ctx := context.Background()

	cc := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret)
	require.Equal(t, 200, cc.status)
	access := cc.body["access_token"].(string)
	conf := oauth2.Config{ClientID: refresherClient, ClientSecret: refresherSecret, Endpoint: oauth2.Endpoint{TokenURL: auth.url("/oauth/token")}}
	withRefresh, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
	require.NoError(t, err)

	// A browser signs in and consents.
	br := authservertest.New(t, "http://"+addr)
	p := br.Login(authservertest.AuthorizePath(nil))
	require.Equal(t, 303, p.Status)
	consent := br.Get(p.Location)
	require.Equal(t, 200, consent.Status, "consent asked the first time")
	require.Equal(t, 303, br.Post("/oauth/authorize", authservertest.ConsentForm(t, consent, "allow")).Status)

	check := func(when string) {
		t.Helper()
		intro := postForm(t, auth.url("/oauth/introspect"), url.Values{"token": {access}}, rsClient, rsSecret)
		assert.Equal(t, true, intro.body["active"], "%s: access token", when)
		r := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {withRefresh.RefreshToken}}, refresherClient, refresherSecret)
		require.Equal(t, 200, r.status, "%s: refresh token: %s", when, r.raw)
		withRefresh.RefreshToken = r.body["refresh_token"].(string)
		again := br.Get(authservertest.AuthorizePath(nil))
		assert.Equal(t, 302, again.Status, "%s: session and consent kept, straight back to the client", when)
		assert.Contains(t, again.Location, "code=")
	}
	check("before any restart")

	auth = auth.restart(t, true)
	check("after a graceful restart")

	auth = auth.restart(t, false)
	check("after kill -9")
}

// TestBackendDownAndBack cuts PostgreSQL and then Redis away from a running
// server (through a proxy), then stalls Redis, and restores each: fast
// 503s meanwhile, not ready, then recovery with no restart.
func TestBackendDownAndBack(t *testing.T) {
	d := needDurable(t)
	pgProxy := faulttest.NewProxy(t, d.pgAddr)
	redisProxy := faulttest.NewProxy(t, d.redisAdr)
	ln := listen(t)
	env := d.env(t, ln.Addr().String())
	u, _ := url.Parse(d.pgDSN)
	u.Host = pgProxy.Addr()
	env["AUTHSERVER_POSTGRES_DSN"] = u.String()
	ru, _ := url.Parse(d.redisURL)
	ru.Host = redisProxy.Addr()
	env["AUTHSERVER_REDIS_URL"] = ru.String()
	// A stalled Redis is bounded by this, not by the 30 s the other tests
	// give a slow machine.
	env["AUTHSERVER_REDIS_TIMEOUT"] = "1s"
	auth := startOn(t, "authserver", ln, env)

	issue := func() response {
		return postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret)
	}
	require.Equal(t, 200, issue().status)
	// Users are read from PostgreSQL on every password grant, after the
	// user's failure counter in Redis; clients come from a short-lived
	// cache, so client_credentials carries on without PostgreSQL.
	password := func() response {
		return postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}}, demoClient, demoSecret)
	}

	for _, c := range []struct {
		name        string
		fault, heal func()
	}{
		{"postgres down", pgProxy.Cut, pgProxy.Restore},
		{"redis down", redisProxy.Cut, redisProxy.Restore},
		// Connections open, nothing answers: bounded by redis.timeout.
		{"redis stalled", redisProxy.Pause, redisProxy.Resume},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.fault()
			start := time.Now()
			r := password()
			assert.Less(t, time.Since(start), 10*time.Second, "fast: no waiting for the 30 s query timeout")
			assert.Equal(t, 503, r.status, r.raw)
			assert.Equal(t, "temporarily_unavailable", r.body["error"])
			assert.Equal(t, 503, get(t, auth.url("/readyz")).status, "not ready")
			if c.name == "postgres down" {
				assert.Equal(t, 200, issue().status,
					"client_credentials carries on from the client cache; its audit events go to the JSON log")
			}

			c.heal()
			require.Eventually(t, func() bool { return password().status == 200 }, time.Minute, 200*time.Millisecond, "recovers by itself")
			assert.Equal(t, 200, get(t, auth.url("/readyz")).status)
		})
	}
}
