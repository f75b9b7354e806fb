package authserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage"
)

// OpenID Connect under races, faults and floods: the guarantees the rest
// of the server gives (README, "What holds under races and faults") hold
// for ID tokens, UserInfo and logout too.

// oidcCode has alice, signed in and consented in b, authorize an OpenID
// Connect request of the demo client and returns the code.
func oidcCode(t *testing.T, r rp, b *browser, nonce string) string {
	t.Helper()
	back := b.Authorize(r.conf.AuthCodeURL("s", oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkceVerifier)), "alice", "alice-password", "allow")
	code := query(t, back).Get("code")
	require.NotEmpty(t, code, back)
	return code
}

// TestRaceOpenIDCodeAndRefresh: one code exchanged by 50 requests at once
// is answered with tokens and an ID token at most once, and the replays
// leave nothing of it alive; one refresh token presented by 50 at once is
// answered exactly once, with an ID token. On memory and on PostgreSQL
// with Redis.
func TestRaceOpenIDCodeAndRefresh(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, opts(t)...)
			r := newRP(t, ts, "profile")
			b := newBrowser(t, ts)
			code := oidcCode(t, r, b, "n-race")

			race := func(do func() reply) []reply {
				var (
					mu   sync.Mutex
					wins []reply
					wg   sync.WaitGroup
				)
				for i := 0; i < raceRounds; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if res := do(); res.status == 200 {
							mu.Lock()
							wins = append(wins, res)
							mu.Unlock()
						} else if res.status != 400 {
							t.Errorf("a loser is refused with invalid_grant, not %d: %s", res.status, res.raw)
						}
					}()
				}
				wg.Wait()
				return wins
			}
			wins := race(func() reply { return ts.exchangeCode(t, code) })
			// A presentation while the first exchange holds the code is a
			// replay (RFC 6749 §4.1.2), which may even refuse that first
			// one: at most one answer, and what it handed out is revoked.
			require.LessOrEqual(t, len(wins), 1, "a code is answered at most once")
			for _, w := range wins {
				idt, err := r.verifier.Verify(t.Context(), w.body["id_token"].(string))
				require.NoError(t, err)
				assert.Equal(t, "n-race", idt.Nonce)
				assert.False(t, ts.alive(t, tokensOf(w)), "the replays took down what the code gave")
			}

			// The replays revoked what the winner got: take a fresh grant
			// for the refresh race.
			code = oidcCode(t, r, b, "n-race-2")
			first := ts.exchangeCode(t, code)
			require.Equal(t, 200, first.status, first.raw)
			wins = race(func() reply { return ts.refresh(t, first.body["refresh_token"].(string)) })
			require.Len(t, wins, 1, "one rotation of the refresh token wins")
			again, err := r.verifier.Verify(t.Context(), wins[0].body["id_token"].(string))
			require.NoError(t, err)
			assert.Equal(t, aliceID, again.Subject)
		})
	}
}

// TestOpenIDWhilePostgreSQLIsDown cuts the way to PostgreSQL under a
// running server: UserInfo and the logout page answer a fast 503, a code
// exchange too, and once PostgreSQL is back the very same code gives its
// tokens and its ID token: nothing the client was told it had is lost,
// and nothing it was refused is half given.
func TestOpenIDWhilePostgreSQLIsDown(t *testing.T) {
	dsn := faulttest.NewDatabase(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	proxy := faulttest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	ts := start(t, placed(t, storage.Config{
		Default:        storage.Postgres,
		Postgres:       storage.PostgresConfig{DSN: u.String(), MaxConns: 4, QueryTimeout: time.Second, Migrate: true},
		ConnectTimeout: 10 * time.Second,
		ClientCacheTTL: time.Second,
	}))
	r := newRP(t, ts, "profile", "email")
	b := newBrowser(t, ts)
	tok, _ := r.signIn(t, b, "n")
	code := oidcCode(t, r, b, "n-kept")
	logout := "/oauth/end_session?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"http://localhost:5003/"}}.Encode()

	proxy.Cut()
	fast := func(name string, f func() (int, http.Header)) {
		t.Helper()
		start := time.Now()
		status, h := f()
		assert.Equal(t, 503, status, name)
		assert.NotEmpty(t, h.Get("Retry-After"), name)
		assert.Less(t, time.Since(start), 5*time.Second, "%s: a fast answer, not a hang", name)
	}
	fast("userinfo", func() (int, http.Header) {
		res := userInfo(t, ts, http.MethodGet, tok.AccessToken, nil)
		if res.status == 503 {
			assert.Equal(t, "temporarily_unavailable", res.body["error"])
		}
		return res.status, res.header
	})
	fast("the code exchange", func() (int, http.Header) {
		res := ts.exchangeCode(t, code)
		return res.status, res.header
	})
	fast("the logout page", func() (int, http.Header) {
		p := b.Get(logout)
		return p.Status, p.Header
	})

	proxy.Restore()
	var exchanged reply
	require.Eventually(t, func() bool {
		exchanged = ts.exchangeCode(t, code)
		return exchanged.status != 503
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, 200, exchanged.status, "the code was not burned by the outage: %s", exchanged.raw)
	idt, err := r.verifier.Verify(t.Context(), exchanged.body["id_token"].(string))
	require.NoError(t, err)
	assert.Equal(t, "n-kept", idt.Nonce)
	info := userInfo(t, ts, http.MethodGet, tok.AccessToken, nil)
	assert.Equal(t, 200, info.status, "UserInfo is back: %s", info.raw)
	assert.Equal(t, "alice@example.com", info.body["email"])
	assert.Equal(t, 200, b.Get(logout).Status, "and so is the logout page")
}

// TestOpenIDFloodsKeepNothing sends what is keyed by input, by the
// thousand: bearer tokens that are no tokens at UserInfo, forged
// id_token_hints at the logout and authorization endpoints, nonces of
// the largest size allowed and more. Every one is refused (4xx), none is
// stored, and the server's heap ends where it began.
func TestOpenIDFloodsKeepNothing(t *testing.T) {
	ts := start(t, authserver.WithRateLimits(authserver.RateLimits{Disabled: true})) // the floods, not the limits
	r := newRP(t, ts)
	b := newBrowser(t, ts)
	tok, _ := r.signIn(t, b, "n")
	hint := tok.Extra("id_token").(string)

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const n = 2000
	before := heap()
	junk := strings.Repeat("x", 4000)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%010d", i)
		if res := userInfo(t, ts, http.MethodGet, junk+id, nil); res.status != 401 {
			t.Fatalf("userinfo with junk: %d", res.status)
		}
		forged := hint[:len(hint)-10] + id[len(id)-10:]
		if p := b.Get("/oauth/end_session?" + url.Values{"id_token_hint": {forged}}.Encode()); p.Status != 400 {
			t.Fatalf("a forged hint at end_session: %d", p.Status)
		}
		big := r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(pkceVerifier), oauth2.SetAuthURLParam("nonce", strings.Repeat("n", 513)+id))
		if p := b.Get(big); p.Status != 302 || query(t, p.Location).Get("error") != "invalid_request" {
			t.Fatalf("an oversized nonce: %d %s", p.Status, p.Location)
		}
	}
	after := heap()
	t.Logf("heap before %d KB, after %d KB, %d requests of each kind", before>>10, after>>10, n)
	assert.Less(t, after, before+4<<20, "nothing of %d junk tokens, hints and nonces is kept", 3*n)
	assert.Equal(t, 200, b.Get("/oauth/account").Status, "and the user is still signed in")
}
