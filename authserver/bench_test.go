package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/metrics"
)

// The hot paths, through the real handler stack with a recorder: what one
// request costs the server, without the network. scripts/bench.sh measures
// the same paths over loopback with wrk.

func benchHandler(b *testing.B, opts ...authserver.Option) http.Handler {
	b.Helper()
	srv, err := authserver.New(context.Background(), append([]authserver.Option{
		authserver.WithIssuer("http://localhost:5001"),
		authserver.WithFixtures(demoFixtures),
		// A benchmark sends far more than the default limits allow; with
		// these the limiter does all its work and never refuses.
		unlimited,
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	return r
}

// servedHandler is benchHandler behind the middleware every request of
// cmd/authserver passes first (request id, body limit, recovery, metrics;
// the access line is off), as it is served.
func servedHandler(b *testing.B, opts ...authserver.Option) http.Handler {
	b.Helper()
	r := httpserver.NewRouter(httpserver.Stack{
		Log: zap.NewNop(), AccessLevel: zapcore.DebugLevel, MaxBodyBytes: 64 << 10, Metrics: metrics.New(),
	})
	r.Mount("/", benchHandler(b, opts...))
	return r
}

func formReq(path, body, user, pass string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return req
}

func issue(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, formReq("/oauth/token", "grant_type=client_credentials", "service", serviceSecret))
	if rec.Code != 200 {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return body.AccessToken
}

// unlimited are rate limits nobody reaches.
var unlimited = authserver.WithRateLimits(authserver.RateLimits{
	Source: authserver.RateLimit{PerSecond: 1e9, Burst: 1e9},
	Client: authserver.RateLimit{PerSecond: 1e9, Burst: 1e9},
})

var noRateLimits = authserver.WithRateLimits(authserver.RateLimits{Disabled: true})

// BenchmarkTokenClientCredentials is the token endpoint with the rate
// limits off, and on (nobody over them) with the buckets in memory or in
// Redis (AUTHSERVER_REDIS_URL; skipped without one), by the library's
// handler alone; and (served) as cmd/authserver serves it, behind its
// middleware with the default limits in memory. It reports the process's
// CPU time per request beside the wall time.
func BenchmarkTokenClientCredentials(b *testing.B) {
	for _, v := range []struct {
		name   string
		opts   func(b *testing.B) []authserver.Option
		handle func(b *testing.B, opts ...authserver.Option) http.Handler
	}{
		{"rate_limits=off", func(*testing.B) []authserver.Option { return []authserver.Option{noRateLimits} }, benchHandler},
		{"rate_limits=memory", func(*testing.B) []authserver.Option { return nil }, benchHandler},
		{"rate_limits=redis", benchRedis, benchHandler},
		{"served", func(*testing.B) []authserver.Option { return nil }, servedHandler},
	} {
		b.Run(v.name, func(b *testing.B) {
			h := v.handle(b, v.opts(b)...)
			issue(b, h)
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				issue(b, h)
			}
			b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/1e3/float64(b.N), "cpu-µs/req")
		})
	}
}

// BenchmarkRateLimitCost is what the rate limits add to a client_credentials
// token request when nobody is over them, with the buckets in memory (the
// default) or in Redis (AUTHSERVER_REDIS_URL; skipped without one), the
// request served as cmd/authserver serves it or (handler-only) by the
// library's handler alone. Each iteration sends one request to a server
// without the limits and one to a server with them (in turns, which
// first), timing each, so that both see the same machine at the same
// moment. It reports the median time of each (medians, because a shared
// machine adds outliers that a mean would count) and the difference as
// rate-limit-% of the request without. Run it with -benchtime 20000x or
// more and -count 5: the difference is small beside the noise.
func BenchmarkRateLimitCost(b *testing.B) {
	for _, v := range []struct {
		name   string
		opts   func(b *testing.B) []authserver.Option
		handle func(b *testing.B, opts ...authserver.Option) http.Handler
	}{
		{"memory", func(*testing.B) []authserver.Option { return nil }, servedHandler},
		{"memory-handler-only", func(*testing.B) []authserver.Option { return nil }, benchHandler},
		{"redis", benchRedis, servedHandler},
	} {
		b.Run(v.name, func(b *testing.B) {
			off, on := v.handle(b, noRateLimits), v.handle(b, v.opts(b)...)
			issue(b, off)
			issue(b, on)
			var without, with []time.Duration
			timed := func(h http.Handler) time.Duration {
				start := time.Now()
				issue(b, h)
				return time.Since(start)
			}
			for b.Loop() {
				if len(with)%2 == 0 { // alternate which goes first
					without = append(without, timed(off))
					with = append(with, timed(on))
				} else {
					with = append(with, timed(on))
					without = append(without, timed(off))
				}
			}
			off50, on50 := median(without), median(with)
			b.ReportMetric(float64(off50.Nanoseconds()), "ns/req-off")
			b.ReportMetric(float64(on50.Nanoseconds()), "ns/req-on")
			b.ReportMetric(100*float64(on50-off50)/float64(off50), "rate-limit-%")
		})
	}
}

// cpuTime is the CPU time this process has used, its every thread (the
// garbage collector's included): on a shared machine, steadier than wall
// time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// benchRedis keeps the rate limit buckets in AUTHSERVER_REDIS_URL, under a
// key prefix of the benchmark's own.
func benchRedis(b *testing.B) []authserver.Option {
	u := os.Getenv("AUTHSERVER_REDIS_URL")
	if u == "" {
		b.Skip("set AUTHSERVER_REDIS_URL to measure the rate limits in Redis")
	}
	return []authserver.Option{placed(b, storage.Config{
		Groups: map[storage.Group]storage.Backend{storage.RateLimits: storage.Redis},
		Redis: storage.RedisConfig{URL: u, Timeout: time.Second,
			KeyPrefix: fmt.Sprintf("authserver-bench-%d:", time.Now().UnixNano())},
	})}
}

// The demo's resource server client has a typed-in secret (argon2id); after
// the first request the verified-secret cache answers.
func BenchmarkIntrospectRepeatedToken(b *testing.B) {
	h := benchHandler(b)
	tok := issue(b, h)
	body := "token=" + tok
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, formReq("/oauth/introspect", body, "resourceserver", "resourceserver-secret"))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"active":true`) {
			b.Fatalf("introspect: %d %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkIntrospectFreshToken(b *testing.B) {
	h := benchHandler(b)
	tokens := make([]string, 2000)
	for i := range tokens {
		tokens[i] = "token=" + issue(b, h)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		// Past the first lap the cache holds them; keep b.N within a lap
		// (-benchtime 2000x) to measure full verification.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, formReq("/oauth/introspect", tokens[i%len(tokens)], "resourceserver", "resourceserver-secret"))
		if rec.Code != 200 {
			b.Fatalf("introspect: %d", rec.Code)
		}
		i++
	}
}
