package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/pkg/zaplog"
)

func newTestRouter(t *testing.T, logs *bytes.Buffer, checks ...Check) (http.Handler, *Health) {
	log, err := zaplog.New(logs, "info")
	require.NoError(t, err)
	h := NewHealth(checks...)
	r := NewRouter(Stack{Log: log, AccessLevel: zapcore.InfoLevel, MaxBodyBytes: 16, Health: h, Metrics: metrics.New()})
	r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		zaplog.SetClientID(r.Context(), "c1")
		_, _ = w.Write(b)
	})
	return r, h
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), string(line))
		out = append(out, m)
	}
	return out
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)

	cases := []struct {
		name, in string
		keep     bool
	}{
		{"caller id kept", "abc-123_x.y", true},
		{"missing id generated", "", false},
		{"unsafe id replaced", "abc\ninjected", false},
		{"overlong id replaced", strings.Repeat("a", 65), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			if tc.in != "" {
				req.Header.Set(RequestIDHeader, tc.in)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(RequestIDHeader)
			require.NotEmpty(t, got)
			if tc.keep {
				assert.Equal(t, tc.in, got)
			} else {
				assert.NotEqual(t, tc.in, got)
				assert.True(t, validRequestID(got))
			}
		})
	}
}

func TestAccessLogCarriesRequestFields(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	req := httptest.NewRequest(http.MethodPost, "/echo?token=secret-in-query", strings.NewReader("hi"))
	req.Header.Set(RequestIDHeader, "rid-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)

	lines := logLines(t, &logs)
	require.Len(t, lines, 1)
	l := lines[0]
	assert.Equal(t, "request", l["msg"])
	assert.Equal(t, "rid-1", l["request_id"])
	assert.Equal(t, "c1", l["client_id"], "fields set by the handler reach the access log")
	assert.Equal(t, "/echo", l["path"])
	assert.EqualValues(t, 200, l["status"])
	assert.NotContains(t, logs.String(), "secret-in-query", "query strings are never logged")
}

func TestRecoverAnswersJSON500AndLogs(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/panic", nil))

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"error":"server_error","error_description":"internal error"}`, rec.Body.String())
	lines := logLines(t, &logs)
	require.Len(t, lines, 2)
	assert.Equal(t, "panic serving request", lines[0]["msg"])
	assert.Equal(t, "boom", lines[0]["panic"])
	assert.EqualValues(t, 500, lines[1]["status"], "the access log sees the 500")
}

func TestLimitBody(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 17))))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 16))))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	for path, want := range map[string]int{"/nope": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, want, rec.Code)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/healthz", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestReadiness(t *testing.T) {
	var logs bytes.Buffer
	var down error
	h, health := newTestRouter(t, &logs, Check{Name: "db", Fn: func(context.Context) error { return down }})

	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	assert.Equal(t, 200, get("/readyz").Code)

	down = errors.New("connection refused")
	rec := get("/readyz")
	assert.Equal(t, 503, rec.Code)
	assert.Contains(t, rec.Body.String(), "connection refused")
	assert.Equal(t, 200, get("/healthz").Code, "liveness ignores dependencies")

	down = nil
	health.draining.Store(true)
	assert.Equal(t, 503, get("/readyz").Code, "a draining server is not ready")
}

func TestMetricsCountByRoutePattern(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/random/path/123", nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/healthz"} 3`)
	assert.Contains(t, body, `route="unmatched"`)
	assert.NotContains(t, body, "/random/path")
	assert.Contains(t, body, "go_goroutines")
}

func TestServeShutsDownGracefully(t *testing.T) {
	var logs bytes.Buffer
	log, err := zaplog.New(&logs, "info")
	require.NoError(t, err)

	started := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, DefaultConfig(addr.String()), slow, log, NewHealth(), ln) }()

	respc := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr.String())
		if err != nil {
			respc <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		respc <- string(b)
	}()
	<-started
	cancel() // SIGTERM arrives while a request is in flight
	select {
	case err := <-done:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	assert.Equal(t, "finished", <-respc, "the in-flight request completes")
	require.NoError(t, <-done)

	_, err = net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
	assert.Error(t, err, "no longer accepting")
	assert.Contains(t, logs.String(), `"msg":"stopped"`)
}

func TestServeReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = Serve(context.Background(), DefaultConfig(ln.Addr().String()), http.NotFoundHandler(), zap.NewNop(), nil, nil)
	assert.ErrorContains(t, err, "listen")
}

func TestHeadWhereverGetIsServed(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newTestRouter(t, &logs)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/nope"} {
		t.Run(path, func(t *testing.T) {
			servertest.HeadLikeGet(t, srv.Client(), func(method string) *http.Request {
				req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
				return req
			}, "Content-Length") // the metrics page grows between the two requests
		})
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodHead, srv.URL+"/echo", nil)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "not where only POST is")
}
