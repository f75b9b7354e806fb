package httpserver

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Stack is what NewRouter needs to build a service's base router.
type Stack struct {
	Log          *zap.Logger
	AccessLevel  zapcore.Level // level of the per-request access log line
	MaxBodyBytes int64
	Health       *Health
	Metrics      *Metrics
}

// NewRouter returns a chi router with the middleware every service runs, in
// this order: request id (so every later line has it), access log (outside
// recovery, so a recovered panic is logged as the 500 it became), panic
// recovery, body limit, metrics. It also serves /healthz, /readyz and /metrics.
// Unknown paths and methods answer JSON, like everything else.
func NewRouter(s Stack) chi.Router {
	r := chi.NewRouter()
	r.Use(RequestID(), AccessLog(s.Log, s.AccessLevel), Recover(s.Log), LimitBody(s.MaxBodyBytes))
	if s.Metrics != nil {
		r.Use(s.Metrics.Middleware)
		r.Method(http.MethodGet, "/metrics", s.Metrics.Handler())
	}
	if s.Health != nil {
		r.Method(http.MethodGet, "/healthz", s.Health.Live())
		r.Method(http.MethodGet, "/readyz", s.Health.Ready())
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "error_description": r.Method + " is not allowed here"})
	})
	return r
}
