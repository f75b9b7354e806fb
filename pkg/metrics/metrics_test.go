package metrics_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/pkg/zaplog"
)

// series counts the request counter's label sets: what the registry keeps
// for the life of the process.
func series(t *testing.T, m *metrics.Metrics) int {
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
	m := metrics.New()
	r := httpserver.NewRouter(httpserver.Stack{Log: log, AccessLevel: zapcore.DebugLevel, MaxBodyBytes: 16, Metrics: m})
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
