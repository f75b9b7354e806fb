package fake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// The times the fake resource server tells.
const (
	CurrentTimeBody = `{"current_time":"2026-11-23T13:45:00Z"}` + "\n"
	EpochTimeBody   = `{"epoch_time":1795441500}` + "\n"
)

// ResourceServer is a fake resource server: GET /current_time and
// /epoch_time for a bearer token that active accepts, else 401 invalid_token
// (RFC 6750 §3.1).
type ResourceServer struct {
	*httptest.Server
	active func(token string) bool

	mu      sync.Mutex
	failure Failure
	tokens  []string
}

// NewResourceServer starts a fake resource server that asks active whether
// a token is good. Close it when done.
func NewResourceServer(active func(token string) bool) *ResourceServer {
	rs := &ResourceServer{active: active}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /current_time", rs.serve(CurrentTimeBody))
	mux.HandleFunc("GET /epoch_time", rs.serve(EpochTimeBody))
	rs.Server = httptest.NewServer(failing(func() Failure {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return rs.failure
	}, mux))
	return rs
}

// SetFailure makes every endpoint misbehave, or stop misbehaving.
func (rs *ResourceServer) SetFailure(f Failure) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.failure = f
}

// Tokens are the bearer tokens presented, in order, by their names (see
// TokenID).
func (rs *ResourceServer) Tokens() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.tokens...)
}

func (rs *ResourceServer) serve(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		rs.mu.Lock()
		rs.tokens = append(rs.tokens, TokenID(tok))
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || !rs.active(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_token"}`))
			return
		}
		_, _ = w.Write([]byte(body))
	}
}
