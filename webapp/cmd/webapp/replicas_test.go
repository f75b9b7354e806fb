package main

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/service/servicetest"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/upstreamtest"
)

// Two webapp replicas on one Redis and one cookie key act as one webapp: a
// sign-in started on one completes on the other, the session works on
// both, refreshes due on both at once never spend one refresh token twice,
// a replayed answer is refused on either, and signing out on one signs out
// of both.
func TestReplicasShareSignIns(t *testing.T) {
	redisURL := storagetest.RedisURL(t)
	prefix := "webapp-test:" + rand.Text() + ":"
	t.Cleanup(func() { deleteKeys(t, redisURL, prefix) })

	lnA, lnB := servicetest.Listen(t), servicetest.Listen(t)
	addrA, addrB := lnA.Addr().String(), lnB.Addr().String()
	// The registered redirect URI is B's: as behind a load balancer, the
	// answer may reach another replica than the one that started.
	// Its access tokens are due for refresh as soon as they are issued.
	as, upstreamEnv := upstreams(t, addrB, 10*time.Second)
	env := func(addr string) map[string]string {
		vars := map[string]string{
			"WEBAPP_BROWSER_COOKIE_KEY": testCookieKey,
			"WEBAPP_REDIS_URL":          redisURL,
			"WEBAPP_REDIS_KEY_PREFIX":   prefix,
		}
		for k, v := range upstreamEnv {
			vars[k] = v
		}
		vars["WEBAPP_HTTP_ADDR"] = addr
		return vars
	}
	a := startOn(t, lnA, env(addrA))
	b := startOn(t, lnB, env(addrB))
	for _, s := range []*started{a, b} {
		assert.Contains(t, s.logs.String(), `"session_store":"`+redact(redisURL)+`"`)
		assert.NotContains(t, s.logs.String(), "cookie_key is empty")
	}

	// One browser: cookies are per host, not per port, so it sends the
	// same cookies to both replicas. Redirects are followed by hand.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	resp, _ := get(a.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	callback := as.Authorize(t, c, resp.Header.Get("Location"), upstreamtest.Alice, "allow")
	cbURL, err := url.Parse(callback)
	require.NoError(t, err)
	sealed := cookie(jar, cbURL, "webapp_login")
	require.NotEmpty(t, sealed)
	resp, body := get(callback)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "B completes the sign-in A started: %s", body)
	require.NotEmpty(t, cookie(jar, cbURL, "webapp_session"))

	// Both replicas find the access token due, again and again: one
	// refresh after another, each presenting the refresh token the one
	// before it got, whichever replica makes it. A refresh token presented
	// twice would revoke the grant.
	as.SetDelay(100 * time.Millisecond) // the refreshes overlap
	var wg sync.WaitGroup
	pages := make([]string, 8)
	codes := make([]int, 8)
	for i := range pages {
		base := []string{a.url, b.url}[i%2]
		wg.Go(func() {
			resp, err := c.Get(base + "/")
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			pages[i], codes[i] = string(body), resp.StatusCode
		})
	}
	wg.Wait()
	issued := as.Issued()
	require.Len(t, issued, 9, "the sign-in's tokens and a refresh for each page")
	require.Len(t, as.Presented(), 8)
	for i, rt := range as.Presented() {
		assert.Equal(t, issued[i].RefreshToken, rt, "refresh %d presents the newest refresh token", i)
	}
	assert.Zero(t, as.RefusedRefreshes())
	for i, p := range pages {
		assert.Equal(t, http.StatusOK, codes[i])
		assert.Contains(t, p, "2026-11-23T13:45:00Z", "signed in on both")
	}

	// The answer replayed, with the sign-in cookie put back, is refused on
	// either replica without reaching the authserver.
	for _, base := range []string{a.url, b.url} {
		jar.SetCookies(cbURL, []*http.Cookie{{Name: "webapp_login", Value: sealed, Path: "/callback"}})
		u, _ := url.Parse(base + "/callback")
		u.RawQuery = cbURL.RawQuery
		resp, body = get(u.String())
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "no sign-in in progress")
	}
	assert.Equal(t, 1, as.CodeExchanges())

	// Sign out on A; B sees it.
	_, body = get(b.url + "/")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	require.Len(t, m, 2, body)
	resp, err = c.PostForm(a.url+"/logout", url.Values{"csrf_token": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []upstreamtest.Revocation{{Token: as.Issued()[9].RefreshToken, Hint: "refresh_token"}}, as.Revocations(),
		"the current refresh token: the page before signing out refreshed once more")
	_, body = get(b.url + "/")
	assert.Contains(t, body, "Sign in with authserver")
}

func cookie(jar http.CookieJar, u *url.URL, name string) string {
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

func deleteKeys(t *testing.T, redisURL, prefix string) {
	opt, err := goredis.ParseURL(redisURL)
	require.NoError(t, err)
	c := goredis.NewClient(opt)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	err = iter.Err()
	if err == nil && len(keys) > 0 {
		err = c.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("deleting test keys %s*: %v", prefix, err)
	}
}
