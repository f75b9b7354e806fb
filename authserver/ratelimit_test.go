package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage"
)

const (
	limitedFixtures = "testdata/ratelimit-clients.yaml"
	limitedSecret   = "3BAS7lEC2Taef5BLLQK3pnH9VOWNwSKMBgrfqLL3GVU"
)

// slowly is a budget of burst requests, then one per 1000 s: nothing
// refills while a test runs.
func slowly(burst int) authserver.RateLimit {
	return authserver.RateLimit{PerSecond: 0.001, Burst: burst}
}

var clientCredentials = url.Values{"grant_type": {"client_credentials"}}

// A client past its own rate limit gets 429, with Retry-After and the
// RateLimit fields, while another client goes on; a wrong secret spends
// nothing of the client's budget.
func TestClientRateLimit(t *testing.T) {
	ts := start(t, authserver.WithFixtures(limitedFixtures))

	wrong := ts.post(t, "/oauth/token", clientCredentials, "limited", "not-its-secret")
	require.Equal(t, 401, wrong.status, "a failed authentication...")
	for i := range 2 {
		r := ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret)
		require.Equal(t, 200, r.status, "...spends nothing: request %d of a burst of 2 still passes", i+1)
		assert.Equal(t, []string{`"source";q=2000;w=2`, `"client";q=2;w=2000`}, r.header.Values("RateLimit-Policy"),
			"the client's own limit, after the source's default")
		assert.Equal(t, `"client";r=`+[]string{"1", "0"}[i]+`;t=`+[]string{"1000", "2000"}[i], r.header.Values("RateLimit")[1])
	}

	over := ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret)
	require.Equal(t, 429, over.status, over.raw)
	assert.Equal(t, "1000", over.header.Get("Retry-After"), "seconds until one more request is allowed")
	assert.Equal(t, "invalid_request", over.body["error"])
	assert.Equal(t, "rate limit exceeded; retry after 1000 s", over.body["error_description"])
	assert.Equal(t, "no-store", over.header.Get("Cache-Control"))
	assert.Equal(t, `"client";r=0;t=1000`, over.header.Values("RateLimit")[1])

	for _, endpoint := range []string{"/oauth/introspect", "/oauth/revoke"} {
		r := ts.post(t, endpoint, url.Values{"token": {"x"}}, "limited", limitedSecret)
		assert.Equal(t, 429, r.status, "%s: one budget for the client's every endpoint", endpoint)
	}

	other := ts.post(t, "/oauth/token", clientCredentials, "service", serviceSecret)
	assert.Equal(t, 200, other.status, "another client is not affected")
	assert.Equal(t, `"client";q=2000;w=2`, other.header.Values("RateLimit-Policy")[1], "the server's default")
}

// X-Forwarded-For counts only from a trusted proxy: from anyone else, every
// request counts under its peer address, whatever it claims.
func TestSourceRateLimitAndForwardedAddresses(t *testing.T) {
	token := func(ts *testServer, forwardedFor string) reply {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token", strings.NewReader(clientCredentials.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		req.SetBasicAuth("service", serviceSecret)
		return do(t, req)
	}
	limits := authserver.WithRateLimits(authserver.RateLimits{Source: slowly(2), Client: slowly(100)})

	t.Run("untrusted peer", func(t *testing.T) {
		ts := start(t, limits)
		assert.Equal(t, 200, token(ts, "192.0.2.1").status)
		assert.Equal(t, 200, token(ts, "192.0.2.2").status)
		r := token(ts, "192.0.2.3")
		assert.Equal(t, 429, r.status, "three addresses claimed, one peer: one budget")
		assert.Equal(t, []string{`"source";r=0;t=1000`}, r.header.Values("RateLimit"), "refused before the client is looked at")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		ts := start(t, limits, authserver.WithTrustedProxies("127.0.0.0/8", "::1"))
		for _, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1"} {
			assert.Equal(t, 200, token(ts, addr).status, "%s: each address its own budget", addr)
		}
		assert.Equal(t, 429, token(ts, "192.0.2.1").status, "192.0.2.1's third request")
		assert.Equal(t, 429, token(ts, "203.0.113.9, 192.0.2.1").status,
			"the entry the proxy added is the one believed, not what the client wrote before it")
		assert.Equal(t, 200, token(ts, "2001:db8::1").status)
		assert.Equal(t, 200, token(ts, "2001:db8::2").status)
		assert.Equal(t, 429, token(ts, "2001:db8::3").status, "an IPv6 /64 is one source")
	})
}

// Pages answer 429 with an HTML page; the JWKS, metadata and static files
// have a budget of their own, ten times the source's.
func TestPageAndPublicRateLimits(t *testing.T) {
	ts := start(t, authserver.WithRateLimits(authserver.RateLimits{Source: slowly(1), Client: slowly(100)}))
	get := func(path string) reply {
		req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		require.NoError(t, err)
		return do(t, req)
	}
	require.Equal(t, 200, get("/oauth/login").status)
	page := get("/oauth/signup")
	assert.Equal(t, 429, page.status, "one budget for the source's pages and OAuth calls")
	assert.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
	assert.Contains(t, page.raw, "Too many requests")
	assert.Contains(t, page.raw, "wait 1000 seconds")
	assert.Equal(t, "1000", page.header.Get("Retry-After"))
	assert.Equal(t, "DENY", page.header.Get("X-Frame-Options"), "the pages' security headers")
	assert.Equal(t, 429, ts.post(t, "/oauth/token", clientCredentials, "service", serviceSecret).status)

	for i := range 10 {
		path := []string{"/oauth/jwks.json", "/.well-known/oauth-authorization-server"}[i%2]
		r := get(path)
		require.Equal(t, 200, r.status, "%s, request %d of 10", path, i+1)
		assert.Equal(t, `"public";q=10;w=1000`, r.header.Get("RateLimit-Policy"))
	}
	assert.Equal(t, 429, get("/oauth/jwks.json").status)
	assert.Equal(t, 429, get("/oauth/static/style.css").status)
}

func TestRateLimitsOff(t *testing.T) {
	ts := start(t, authserver.WithFixtures(limitedFixtures), authserver.WithRateLimits(authserver.RateLimits{Disabled: true}))
	for range 5 {
		r := ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret)
		require.Equal(t, 200, r.status, "even a client's own limit is off")
		assert.Empty(t, r.header.Values("RateLimit"))
		assert.Empty(t, r.header.Values("RateLimit-Policy"))
	}
}

func TestRateLimitOptionsAreChecked(t *testing.T) {
	ctx := context.Background()
	good := authserver.RateLimit{PerSecond: 1, Burst: 1}
	for name, opt := range map[string]authserver.Option{
		"zero source":       authserver.WithRateLimits(authserver.RateLimits{Client: good}),
		"negative rate":     authserver.WithRateLimits(authserver.RateLimits{Source: good, Client: authserver.RateLimit{PerSecond: -1, Burst: 1}}),
		"zero burst":        authserver.WithRateLimits(authserver.RateLimits{Source: authserver.RateLimit{PerSecond: 1}, Client: good}),
		"bad trusted proxy": authserver.WithTrustedProxies("10.0.0.0/8", "proxy.example"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := authserver.New(ctx, opt)
			assert.Error(t, err)
		})
	}
	srv, err := authserver.New(ctx, authserver.WithRateLimits(authserver.RateLimits{Disabled: true}))
	require.NoError(t, err, "off needs no rates")
	require.NoError(t, srv.Close())
}

// rateLimitsIn keeps the rate limit buckets in the given Redis.
func rateLimitsIn(tb testing.TB, r *faulttest.Redis) authserver.Option {
	return placed(tb, storage.Config{
		Groups: map[storage.Group]storage.Backend{storage.RateLimits: storage.Redis},
		Redis:  storage.RedisConfig{URL: r.URL(), Timeout: time.Second},
	})
}

// Two servers on one Redis are two replicas: a client spends one budget
// across both.
func TestRateLimitsAreSharedInRedis(t *testing.T) {
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	a := start(t, rateLimitsIn(t, r), authserver.WithFixtures(limitedFixtures))
	b := start(t, rateLimitsIn(t, r), authserver.WithFixtures(limitedFixtures))
	assert.Equal(t, 200, a.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)
	assert.Equal(t, 200, b.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)
	assert.Equal(t, 429, a.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)
	assert.Equal(t, 429, b.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)
}

// With its Redis stalled, the rate limiter lets requests through (it fails
// open) and says so once; the first request waits redis.timeout, the
// others do not wait at all. When Redis is back, the limits are too.
func TestRateLimitsFailOpenWhenRedisIsDown(t *testing.T) {
	r := faulttest.StartRedis(t, faulttest.RedisOptions{})
	core, logs := observer.New(zap.InfoLevel)
	ts := start(t, rateLimitsIn(t, r), authserver.WithFixtures(limitedFixtures), authserver.WithLogger(zap.New(core)))
	for range 2 {
		require.Equal(t, 200, ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)
	}
	require.Equal(t, 429, ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status)

	r.Pause()
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	start := time.Now()
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status
		})
	}
	wg.Wait()
	took := time.Since(start)
	for i, s := range statuses {
		assert.Equal(t, 200, s, "request %d: served, unlimited", i)
	}
	assert.Less(t, took, 10*time.Second, "bounded by redis.timeout (1 s), not 20 of them")
	assert.Equal(t, 1, logs.FilterMessageSnippet("rate limiter unavailable").Len(), "one warning for the outage")

	r.Resume()
	require.Eventually(t, func() bool {
		return ts.post(t, "/oauth/token", clientCredentials, "limited", limitedSecret).status == 429
	}, time.Minute, 100*time.Millisecond, "the limits apply again")
	assert.Equal(t, 1, logs.FilterMessageSnippet("rate limiter answers again").Len())
}
