package httpserver

import (
	"errors"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/pkg/zaplog"
)

// Stack is what NewRouter needs to build a service's base router.
type Stack struct {
	Log *zap.Logger
	// AccessLevel is the level of the per-request access log line: a
	// zapcore.Level, or a zap.AtomicLevel to change it while serving.
	// Nil means info.
	AccessLevel  zapcore.LevelEnabler
	MaxBodyBytes int64
	Health       *Health
	// Metrics, if set, records every request (package metrics).
	Metrics Metrics
	// RecordClientAddr puts each request's client address (ClientAddr,
	// believing TrustedProxies) in its context, for ClientAddrFrom: a
	// service that calls another for its caller can forward it.
	RecordClientAddr bool
	TrustedProxies   TrustedProxies
	// MetricsAccess says how Metrics are served: at /metrics on this
	// router unless MetricsAccess.Addr is set (then MetricsServer serves
	// them), behind MetricsAccess.Token when it is set.
	MetricsAccess MetricsConfig
}

// NewRouter returns a chi router with what every request of every service
// goes through (see Stack.middleware), and /healthz, /readyz and /metrics.
// HEAD is answered wherever GET is, as GET without the body (RFC 9110
// §9.3.2). Unknown paths and methods answer JSON, like everything else.
func NewRouter(s Stack) chi.Router {
	r := chi.NewRouter()
	r.Use(s.middleware(), middleware.GetHead)
	if s.Metrics != nil && s.MetricsAccess.Addr == "" {
		r.Method(http.MethodGet, "/metrics", metricsEndpoint(s.Metrics, s.MetricsAccess.Token))
	}
	if s.Health != nil {
		r.Method(http.MethodGet, "/healthz", s.Health.Live())
		r.Method(http.MethodGet, "/readyz", s.Health.Ready())
	}
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		JSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "error_description": r.Method + " is not allowed here"})
	})
	return r
}

// middleware is every service's per-request work in one wrapper: one status
// recorder and one deferred block rather than five nested handlers (it runs
// on every request of the token endpoint, where that nesting was measurable).
// In order: the request id (so every later line has it), the body limit,
// the handler, then panic recovery (a JSON 500, logged), metrics by route
// pattern, and the access line, which sees a recovered panic as the 500 it
// became. It must be installed with chi's Use, so the route pattern is known.
func (s Stack) middleware() func(http.Handler) http.Handler {
	ids := newIDSource()
	access := s.Log.WithOptions(zap.WithCaller(false))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID(id) {
				id = ids.next()
			}
			w.Header().Set(RequestIDHeader, id)
			fields := &zaplog.RequestFields{RequestID: id}
			ctx := zaplog.WithFields(r.Context(), fields)
			if s.RecordClientAddr {
				ctx = WithClientAddr(ctx, s.TrustedProxies.ClientAddr(r))
			}
			r = r.WithContext(ctx)
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
			}
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
						panic(p)
					}
					zaplog.For(r.Context(), s.Log).Error("panic serving request",
						zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
					if sw.status == 0 {
						JSON(sw, http.StatusInternalServerError, map[string]string{
							"error": "server_error", "error_description": "internal error",
						})
					}
				}
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				elapsed := time.Since(start)
				if s.Metrics != nil {
					s.Metrics.Observe(r, status, elapsed)
				}
				if ce := access.Check(accessLevel(s.AccessLevel), "request"); ce != nil {
					ce.Write(
						zap.String("request_id", fields.RequestID),
						known("client_id", fields.ClientID),
						known("user_id", fields.UserID),
						zap.String("method", r.Method),
						zap.String("path", r.URL.Path),
						zap.Int("status", status),
						zap.Int64("bytes", sw.bytes),
						zap.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					)
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// accessLevel is the level access lines are written at now.
func accessLevel(l zapcore.LevelEnabler) zapcore.Level {
	if l == nil {
		return zapcore.InfoLevel
	}
	return zapcore.LevelOf(l)
}

// known is a string field, left out when empty.
func known(key, value string) zap.Field {
	if value == "" {
		return zap.Skip()
	}
	return zap.String(key, value)
}
