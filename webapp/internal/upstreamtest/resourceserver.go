package upstreamtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The times the resource server tells.
const (
	CurrentTimeBody = `{"current_time":"2026-11-23T13:45:00Z"}` + "\n"
	EpochTimeBody   = `{"epoch_time":1795441500}` + "\n"
)

// ResourceServer stands in for the resource server, whose code its module
// keeps internal: GET /current_time and /epoch_time answer the fixed times
// above to a bearer token that the authserver, asked by introspection,
// says is active and covers the endpoint's scope; else 401 invalid_token or
// 403 insufficient_scope (RFC 6750 §3.1). It sits behind a Proxy.
type ResourceServer struct {
	*Proxy
	as *AuthServer

	mu     sync.Mutex
	tokens []string
}

// NewResourceServer starts a resource server whose tokens as issues.
func NewResourceServer(t *testing.T, as *AuthServer) *ResourceServer {
	rs := &ResourceServer{as: as}
	mux := http.NewServeMux()
	mux.Handle("GET /current_time", rs.serve(t, "current_time", CurrentTimeBody))
	mux.Handle("GET /epoch_time", rs.serve(t, "epoch_time", EpochTimeBody))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rs.Proxy = NewProxy(t, srv.URL)
	return rs
}

// Tokens are the bearer tokens presented, in order.
func (rs *ResourceServer) Tokens() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.tokens...)
}

func (rs *ResourceServer) serve(t *testing.T, scope, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		rs.mu.Lock()
		rs.tokens = append(rs.tokens, tok)
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		ans, err := rs.as.introspect.Introspect(r.Context(), tok)
		switch {
		case err != nil:
			t.Errorf("upstreamtest: introspection: %v", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		case !ans.Active:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_token"}`))
		case !ans.HasScope(scope):
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"insufficient_scope"}`))
		default:
			_, _ = w.Write([]byte(body))
		}
	})
}
