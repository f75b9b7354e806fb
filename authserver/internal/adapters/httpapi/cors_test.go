package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// origins is a fake OriginChecker: the origins some client allows.
type origins struct {
	allowed map[string]bool
	err     error
}

func (o origins) OriginAllowed(_ context.Context, origin string) (bool, error) {
	return o.allowed[origin], o.err
}

func TestClientCORS(t *testing.T) {
	spa := domain.Client{ID: "spa", AllowedOrigins: []string{"https://spa.example"}}
	other := domain.Client{ID: "other", AllowedOrigins: []string{"https://other.example"}}
	known := origins{allowed: map[string]bool{"https://spa.example": true, "https://other.example": true}}
	cases := []struct {
		name   string
		origin string
		client *domain.Client // the client the handler authenticates, if any
		check  OriginChecker
		want   string
	}{
		{"no origin", "", &spa, known, ""},
		{"the client's origin", "https://spa.example", &spa, known, "https://spa.example"},
		{"another client's origin", "https://other.example", &spa, known, ""},
		{"an origin no client allows", "https://evil.example", &other, known, ""},
		{"no client known: any allowed origin reads the error", "https://other.example", nil, known, "https://other.example"},
		{"no client known, origin allowed by none", "https://evil.example", nil, known, ""},
		{"the store is down", "https://spa.example", &spa, origins{err: errors.New("down")}, ""},
		{"no origins configured", "https://spa.example", &spa, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := clientCORS(tc.check, zap.NewNop(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.client != nil {
					corsClient(r.Context(), *tc.client)
				}
				w.WriteHeader(http.StatusBadRequest)
			}))
			req := httptest.NewRequest(http.MethodPost, "/token", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tc.want, rec.Header().Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "Origin", rec.Header().Get("Vary"), "caches keep answers to different origins apart")
			assert.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"), "never credentials mode")
		})
	}
}

func TestClientPreflight(t *testing.T) {
	h := clientPreflight(origins{allowed: map[string]bool{"https://spa.example": true}}, zap.NewNop())
	preflight := func(origin, method string) http.Header {
		req := httptest.NewRequest(http.MethodOptions, "/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusNoContent, rec.Code)
		return rec.Header()
	}
	ok := preflight("https://spa.example", http.MethodPost)
	assert.Equal(t, "https://spa.example", ok.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "POST", ok.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "Authorization, Content-Type", ok.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "600", ok.Get("Access-Control-Max-Age"))
	assert.Empty(t, ok.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, ok.Values("Vary"), "Origin")

	for _, h := range []http.Header{preflight("https://evil.example", http.MethodPost), preflight("https://spa.example", http.MethodDelete), preflight("null", http.MethodPost)} {
		assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
		assert.Empty(t, h.Get("Access-Control-Allow-Methods"))
	}
}

func TestPublicCORS(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/jwks.json", nil)
	req.Header.Set("Origin", "https://anyone.example")
	publicCORS(handleJWKS(func() []byte { return []byte(`{"keys":[]}`) })).ServeHTTP(rec, req)
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))
}
