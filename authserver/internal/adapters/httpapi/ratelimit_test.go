package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

func TestRateLimitFields(t *testing.T) {
	// draft-ietf-httpapi-ratelimit-headers-11 §3.1 and §4.1.
	for _, tc := range []struct {
		limit domain.RateLimit
		want  string
	}{
		{domain.RateLimit{PerSecond: 1000, Burst: 2000}, `"source";q=2000;w=2`},
		{domain.RateLimit{PerSecond: 10, Burst: 5}, `"source";q=5;w=1`},  // half a second: at least one
		{domain.RateLimit{PerSecond: 3, Burst: 10}, `"source";q=10;w=4`}, // 3.3 s, rounded up
		{domain.RateLimit{PerSecond: 0.5, Burst: 1}, `"source";q=1;w=2`}, // fractional rates
		{domain.RateLimit{PerSecond: 1e9, Burst: 1e9}, `"source";q=1000000000;w=1`},
	} {
		assert.Equal(t, tc.want, policyItem("source", tc.limit))
	}
	assert.Equal(t, `"client";r=7;t=2`, limitItem("client", domain.RateDecision{Allowed: true, Remaining: 7, ResetAfter: 1500 * time.Millisecond}))
	assert.Equal(t, `"client";r=0;t=1`, limitItem("client", domain.RateDecision{RetryAfter: 10 * time.Millisecond, ResetAfter: time.Hour}),
		"refused: t is the wait for the next request")
	assert.Equal(t, "1", retrySeconds(time.Millisecond), "Retry-After: whole seconds, rounded up")
	assert.Equal(t, "1", retrySeconds(0), "never 0: that would invite an immediate retry")
	assert.Equal(t, "3", retrySeconds(2001*time.Millisecond))
}

type failingAuthenticator struct{}

func (failingAuthenticator) Authenticate(context.Context, app.ClientCredentials) (domain.Client, error) {
	return domain.Client{}, domain.Errorf(domain.InvalidClient, "client authentication failed")
}

// The source limit is checked before the client is authenticated, so a
// flood of requests from 100,000 distinct addresses, none of them a
// client, reaches the limiter: its map stays within its cap. A flood sent
// from one untrusted peer with a new forwarded address each time is one key.
func TestSourceFloodStaysWithinTheCap(t *testing.T) {
	const maxKeys = 4096
	limiter := memory.NewRateLimiter(maxKeys, time.Now)
	h, err := NewHandler(Deps{
		Log:     zap.NewNop(),
		Clients: failingAuthenticator{},
		RateLimits: NewRateLimits(RateLimitConfig{
			Limiter: limiter,
			Source:  domain.RateLimit{PerSecond: 1, Burst: 5},
			Public:  domain.RateLimit{PerSecond: 10, Burst: 50},
			Client:  domain.RateLimit{PerSecond: 1, Burst: 5},
		}),
		MaxBodyBytes: 1 << 16,
	})
	require.NoError(t, err)
	send := func(remote, forwarded string) int {
		r := formRequest("grant_type=client_credentials")
		r.URL.Path = "/token"
		r.RemoteAddr = remote
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}

	for i := range 100_000 {
		addr := fmt.Sprintf("10.%d.%d.%d:4242", i>>16, i>>8&255, i&255)
		if i%2 == 1 {
			addr = fmt.Sprintf("[2001:db8:%x:%x::1]:4242", i>>16, i&0xffff) // a /64 each
		}
		require.Equal(t, http.StatusUnauthorized, send(addr, ""), "request %d: through the source limit to the client check", i)
	}
	assert.LessOrEqual(t, limiter.Len(), maxKeys)

	spoofer := memory.NewRateLimiter(maxKeys, time.Now)
	h, err = NewHandler(Deps{
		Log: zap.NewNop(), Clients: failingAuthenticator{}, MaxBodyBytes: 1 << 16,
		RateLimits: NewRateLimits(RateLimitConfig{
			Limiter: spoofer,
			Source:  domain.RateLimit{PerSecond: 0.001, Burst: 5},
			Public:  domain.RateLimit{PerSecond: 10, Burst: 50},
			Client:  domain.RateLimit{PerSecond: 1, Burst: 5},
		}),
	})
	require.NoError(t, err)
	refused := 0
	for i := range 20_000 {
		if send("192.0.2.7:4242", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255)) == http.StatusTooManyRequests {
			refused++
		}
	}
	assert.Equal(t, 1, spoofer.Len(), "X-Forwarded-For from an untrusted peer is ignored: one key")
	assert.Equal(t, 20_000-5, refused, "and one budget")
}

// fakeLimiter answers with err, counting calls.
type fakeLimiter struct {
	calls atomic.Int32
	err   atomic.Pointer[error]
}

func (f *fakeLimiter) Allow(context.Context, string, domain.RateLimit) (domain.RateDecision, error) {
	f.calls.Add(1)
	if e := f.err.Load(); e != nil {
		return domain.RateDecision{}, *e
	}
	return domain.RateDecision{Allowed: true, Remaining: 1}, nil
}

// A limiter that fails lets requests through, is asked again at most once
// a second, and is reported once per outage; a caller that went away
// reports nothing.
func TestRateLimitsFailOpen(t *testing.T) {
	f := &fakeLimiter{}
	core, logs := observer.New(zap.InfoLevel)
	l := NewRateLimits(RateLimitConfig{Limiter: f, Log: zap.New(core)})
	ctx := context.Background()
	limit := domain.RateLimit{PerSecond: 1, Burst: 1}

	_, ok := l.allow(ctx, "k", limit)
	require.True(t, ok)
	down := fmt.Errorf("redis: %w", domain.ErrUnavailable)
	f.err.Store(&down)
	for range 100 {
		_, ok := l.allow(ctx, "k", limit)
		assert.False(t, ok, "fails open")
	}
	assert.EqualValues(t, 2, f.calls.Load(), "while down, one call a second, not one per request")
	assert.Equal(t, 1, logs.FilterMessageSnippet("rate limiter unavailable").Len())

	l.probeAt.Store(time.Now().UnixNano()) // a second later
	f.err.Store(nil)
	_, ok = l.allow(ctx, "k", limit)
	assert.True(t, ok, "back")
	assert.Equal(t, 1, logs.FilterMessageSnippet("rate limiter answers again").Len())

	gone, cancel := context.WithCancel(ctx)
	cancel()
	canceled := errors.Join(context.Canceled)
	f.err.Store(&canceled)
	_, ok = l.allow(gone, "k", limit)
	assert.False(t, ok)
	assert.False(t, l.down.Load(), "a caller that went away says nothing of the limiter")
	assert.Equal(t, 1, logs.FilterMessageSnippet("rate limiter unavailable").Len())
}

func TestNoLimiterNoLimits(t *testing.T) {
	assert.Nil(t, NewRateLimits(RateLimitConfig{}))
	var l *RateLimits
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	assert.NotNil(t, l.bySource(sourceBudget, tooManyRequests)(h))
	assert.Equal(t, ClientAuthenticator(failingAuthenticator{}), l.limitClients(failingAuthenticator{}))
}

type okAuthenticator struct{ client domain.Client }

func (a okAuthenticator) Authenticate(context.Context, app.ClientCredentials) (domain.Client, error) {
	return a.client, nil
}

// BenchmarkRateLimits is what the limits add to one OAuth request when
// nobody is over them: the source check, the client check and their header
// fields, around a handler that only authenticates (with a fake) and sets a
// token response's header fields, with the
// limits off and with memory buckets. The difference is their cost; the
// authserver package's BenchmarkRateLimitCost sets it beside a whole token
// request.
func BenchmarkRateLimits(b *testing.B) {
	plenty := domain.RateLimit{PerSecond: 1e9, Burst: 1e9}
	for _, v := range []struct {
		name   string
		limits *RateLimits
	}{
		{"off", nil},
		{"memory", NewRateLimits(RateLimitConfig{
			Limiter: memory.NewRateLimiter(1<<16, time.Now), Source: plenty, Public: plenty, Client: plenty,
		})},
	} {
		b.Run(v.name, func(b *testing.B) {
			clients := v.limits.limitClients(okAuthenticator{domain.Client{ID: "service"}})
			h := v.limits.bySource(sourceBudget, tooManyRequests)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := clients.Authenticate(r.Context(), app.ClientCredentials{ID: "service"})
				if err != nil {
					b.Fatal(err)
				}
				if l, ok := clients.(clientLimiter); ok { // as authenticate does
					if err := l.limitClient(r.Context(), w.Header(), c); err != nil {
						b.Fatal(err)
					}
				}
				noStore(w) // the header fields a token response has anyway
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
			}))
			r := httptest.NewRequest(http.MethodPost, "/token", nil)
			r.RemoteAddr = "192.0.2.1:4242"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
			}
		})
	}
}
