package httpserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/pkg/zaplog"
)

// series counts the request counter's label sets: what the registry keeps
// for the life of the process.
func series(t *testing.T, m *Metrics) int {
	t.Helper()
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "http_requests_total" {
			return len(f.GetMetric())
		}
	}
	return 0
}

func TestMetricLabelsStayBounded(t *testing.T) {
	var logs bytes.Buffer
	log, err := zaplog.New(&logs, "error")
	require.NoError(t, err)
	m := NewMetrics()
	r := NewRouter(Stack{Log: log, AccessLevel: zapcore.DebugLevel, MaxBodyBytes: 16, Metrics: m})
	r.Get("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	serve := func(method, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Method = method // any token is a valid method on the wire
		r.ServeHTTP(httptest.NewRecorder(), req)
	}

	serve("BREW", "/status/200")
	serve(http.MethodGet, "/status/200")
	serve(http.MethodGet, "/status/799")
	serve(http.MethodGet, "/nope/1")
	before := series(t, m)

	for i := 0; i < 10_000; i++ {
		serve(fmt.Sprintf("X%05d", i), fmt.Sprintf("/nope/%d", i))
		serve(fmt.Sprintf("M%05d", i), "/status/200")
		serve(http.MethodGet, fmt.Sprintf("/status/%d", 600+i%400))
	}
	assert.Equal(t, before, series(t, m), "invented methods, paths and status codes add no series")

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	// chi answers a method it does not know with 405, before routing.
	assert.Contains(t, body, `http_requests_total{code="405",method="OTHER",route="unmatched"} 20001`)
	assert.Contains(t, body, `http_requests_total{code="other",method="GET",route="/status/{code}"} 10001`)
	assert.Contains(t, body, `method="GET",route="unmatched"`)
	assert.NotContains(t, body, "X00001")
	assert.NotContains(t, body, "BREW")
	assert.Less(t, len(body), 64<<10, "the page stays small")
}

func TestMethodLabel(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		assert.Equal(t, m, methodLabel(m))
	}
	for _, m := range []string{"get", "PROPFIND", "", "GET ", "BREW"} {
		assert.Equal(t, "OTHER", methodLabel(m), m)
	}
}

func TestMetricsBehindAToken(t *testing.T) {
	log, err := zaplog.New(&bytes.Buffer{}, "error")
	require.NoError(t, err)
	token := "scrape-token-0123456789"
	r := NewRouter(Stack{Log: log, MaxBodyBytes: 16, Metrics: NewMetrics(), MetricsAccess: MetricsConfig{Token: token}})
	for name, c := range map[string]struct {
		auth []string
		want int
	}{
		"no token":        {nil, 401},
		"wrong token":     {[]string{"Bearer scrape-token-0123456780"}, 401},
		"a prefix of it":  {[]string{"Bearer scrape-token"}, 401},
		"basic scheme":    {[]string{"Basic " + token}, 401},
		"two headers":     {[]string{"Bearer " + token, "Bearer " + token}, 401},
		"the token":       {[]string{"Bearer " + token}, 200},
		"scheme any case": {[]string{"bearer " + token}, 200},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			for _, a := range c.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			assert.Equal(t, c.want, rec.Code)
			if c.want == 401 {
				assert.Equal(t, `Bearer realm="metrics"`, rec.Header().Get("WWW-Authenticate"))
				assert.NotContains(t, rec.Body.String(), "go_goroutines")
			} else {
				assert.Contains(t, rec.Body.String(), "go_goroutines")
			}
		})
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	var logs syncBuffer
	log, err := zaplog.New(&logs, "info")
	require.NoError(t, err)
	m := NewMetrics()
	mc := MetricsConfig{Addr: "127.0.0.1:0", Token: "scrape-token-0123456789"}
	r := NewRouter(Stack{Log: log, MaxBodyBytes: 16, Health: NewHealth(), Metrics: m, MetricsAccess: mc})
	public := httptest.NewServer(r)
	defer public.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeAll(ctx, MetricsServer(DefaultConfig(""), mc, m, log, ln)) }()

	get := func(url, token string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, _ := get(public.URL+"/healthz", "")
	require.Equal(t, 200, status)
	status, _ = get(public.URL+"/metrics", mc.Token)
	assert.Equal(t, 404, status, "not on the public router")

	private := "http://" + ln.Addr().String()
	status, body := get(private+"/metrics", mc.Token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/healthz"} 1`)
	status, _ = get(private+"/metrics", "")
	assert.Equal(t, 401, status, "the token is still asked for")
	status, _ = get(private+"/healthz", mc.Token)
	assert.Equal(t, 404, status, "nothing else is served there")

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), `"msg":"metrics listening"`)
	assert.NotContains(t, logs.String(), `"msg":"listening"`, "the main listener's line is left to the main listener")
}

func TestMetricsServerIsNilOnThePublicRouter(t *testing.T) {
	assert.Nil(t, MetricsServer(DefaultConfig(""), MetricsConfig{}, NewMetrics(), zap.NewNop(), nil))
}

func TestServeAllStopsTheOthersWhenOneFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	taken := MetricsServer(DefaultConfig(""), MetricsConfig{Addr: ln.Addr().String()}, NewMetrics(), zap.NewNop(), nil)
	stopped := make(chan struct{})
	err = ServeAll(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	}, taken, nil)
	assert.ErrorContains(t, err, "listen", "the metrics address is taken")
	<-stopped
}
