package httpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
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

// Metrics records every request a router serves and serves the record at
// /metrics. Package metrics implements it with Prometheus; a service opts
// in by putting one in its Stack, so this package links no metrics
// library.
type Metrics interface {
	// Observe records one request; r's chi route context names its route.
	Observe(r *http.Request, status int, elapsed time.Duration)
	// Handler serves what was recorded.
	Handler() http.Handler
}

// metricsEndpoint is m's Handler, requiring token as a bearer token when it
// is not empty; a scrape without it gets a 401.
func metricsEndpoint(m Metrics, token string) http.Handler {
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
func MetricsServer(cfg Config, mc MetricsConfig, m Metrics, log *zap.Logger, ln net.Listener) func(ctx context.Context) error {
	if mc.Addr == "" || m == nil {
		return nil
	}
	r := chi.NewRouter()
	r.Use(middleware.GetHead)
	r.Method(http.MethodGet, "/metrics", metricsEndpoint(m, mc.Token))
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		JSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "only /metrics is served here"})
	})
	cfg.Addr = mc.Addr
	log = log.Named("metrics")
	return func(ctx context.Context) error {
		return serve(ctx, cfg, r, log, nil, ln, "metrics listening")
	}
}
