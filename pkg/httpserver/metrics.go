package httpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// MetricsConfig says where a service serves /metrics. The page tells
// anyone who reads it the service's routes, load and runtime, so in
// production it is served on an address of its own (a loopback or an
// internal network that only the scraper reaches), behind a token, or both.
type MetricsConfig struct {
	// Addr, when set, serves /metrics on a listener of its own (e.g.
	// 127.0.0.1:9101) and not on the service's public router. Empty keeps
	// it on the public router, for development.
	Addr string `json:"addr"`
	// Token, when set, must come with every scrape as "Authorization:
	// Bearer <token>" (Prometheus: authorization.credentials).
	Token string `json:"token"`
}

// Public reports whether anyone who reaches the service reads its
// metrics: no address of their own and no token.
func (mc MetricsConfig) Public() bool { return mc.Addr == "" && mc.Token == "" }

// PublicMetricsWarning is what a service logs when it runs in production
// with Public metrics.
const PublicMetricsWarning = "/metrics is served to anyone on the public address: set metrics.addr or metrics.token"

// MetricsConfigSchema is the JSON Schema of MetricsConfig, for services
// to splice into their own config schema under their "metrics" key. A
// token is 16 to 256 visible ASCII characters: it travels in a header.
const MetricsConfigSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "addr": {"type": "string", "maxLength": 256},
    "token": {"type": "string", "pattern": "^([\\x21-\\x7e]{16,256})?$"}
  }
}`

// Metrics counts requests and their durations by route pattern and status.
// Each service owns its registry: no global state.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns metrics registered on a fresh registry that also holds
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one request. Every label takes a bounded set of values,
// whatever the request says: paths that match no route share "unmatched",
// methods outside the standard ones share "OTHER", and status codes
// outside 100-599 share "other". Otherwise each invented method or path
// would be a new series kept for the life of the process.
func (m *Metrics) observe(r *http.Request, status int, elapsed time.Duration) {
	route := "unmatched"
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			route = p
		}
	}
	m.requests.WithLabelValues(route, methodLabel(r.Method), statusLabel(status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// methodLabel is the method if it is one of RFC 9110's (and PATCH), else
// "OTHER".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusLabel is the status code as text, or "other" outside 100-599 (a
// handler may write any three-digit code; net/http refuses the rest).
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Endpoint is Handler, requiring token as a bearer token when it is not
// empty; a scrape without it gets a 401.
func (m *Metrics) Endpoint(token string) http.Handler {
	h := m.Handler()
	if token == "" {
		return h
	}
	// Compared as hashes, so the time taken says nothing of the length.
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Values("Authorization")
		got, ok := "", len(auth) == 1
		if ok {
			scheme, rest, found := strings.Cut(auth[0], " ")
			got, ok = strings.TrimSpace(rest), found && strings.EqualFold(scheme, "Bearer")
		}
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			JSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "the metrics need their bearer token"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// MetricsServer returns what serves m on a listener of its own when
// mc.Addr is set (on ln if not nil, else on mc.Addr), for ServeAll; nil
// when the metrics are on the public router. It answers /metrics (GET and
// HEAD) and a JSON 404 for anything else, with cfg's timeouts.
func MetricsServer(cfg Config, mc MetricsConfig, m *Metrics, log *zap.Logger, ln net.Listener) func(ctx context.Context) error {
	if mc.Addr == "" || m == nil {
		return nil
	}
	r := chi.NewRouter()
	r.Use(middleware.GetHead)
	r.Method(http.MethodGet, "/metrics", m.Endpoint(mc.Token))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		JSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "only /metrics is served here"})
	})
	cfg.Addr = mc.Addr
	log = log.Named("metrics")
	return func(ctx context.Context) error {
		return serve(ctx, cfg, r, log, nil, ln, "metrics listening")
	}
}
