package httpserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oauth2ref/pkg/zaplog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-ID"

// RequestID gives every request an id: the caller's X-Request-ID when it is a
// short token of safe characters (so a log line cannot be forged through it),
// else a new one. The id is echoed in the response and put in the context for
// every log line of the request.
func RequestID() func(http.Handler) http.Handler {
	ids := newIDSource()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID(id) {
				id = ids.next()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := zaplog.WithFields(r.Context(), &zaplog.RequestFields{RequestID: id})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// idSource makes ids unique across processes (a random prefix) without
// paying for randomness on every request (a counter).
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &idSource{prefix: hex.EncodeToString(b) + "-"}
}

func (s *idSource) next() string {
	return s.prefix + strconv.FormatUint(s.n.Add(1), 36)
}

// statusWriter remembers what a handler wrote, for the access log and for
// panic recovery (which may only write a body if nothing was written yet).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func wrap(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w}
}

// AccessLog writes one line per request at level lvl: method, path, status,
// size, duration and the request's ids. The query string is left out because
// OAuth puts codes and tokens there.
func AccessLog(log *zap.Logger, lvl zapcore.Level) func(http.Handler) http.Handler {
	// The caller of every access line is this file: finding it again per
	// request is wasted work.
	log = log.WithOptions(zap.WithCaller(false))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ce := log.Check(lvl, ""); ce == nil {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			sw := wrap(w)
			next.ServeHTTP(sw, r)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			fields := append(zaplog.Fields(r.Context()),
				zap.String("method", r.Method),
				zap.String("path", r.URL.Path),
				zap.Int("status", status),
				zap.Int64("bytes", sw.bytes),
				zap.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			)
			if ce := log.Check(lvl, "request"); ce != nil {
				ce.Write(fields...)
			}
		})
	}
}

// Recover turns a panic in a handler into a logged JSON 500 instead of a
// dropped connection. http.ErrAbortHandler is let through: it is how a handler
// deliberately aborts a response.
func Recover(log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := wrap(w)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				zaplog.For(r.Context(), log).Error("panic serving request",
					zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
				if sw.status == 0 {
					JSON(sw, http.StatusInternalServerError, map[string]string{
						"error":             "server_error",
						"error_description": "internal error",
					})
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// LimitBody caps how much of a request body handlers may read; reading past
// it fails with *http.MaxBytesError, which handlers turn into a 413.
func LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}
