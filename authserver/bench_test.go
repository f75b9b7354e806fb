package authserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/oauth2ref/authserver"
)

// The hot paths, through the real handler stack with a recorder: what one
// request costs the server, without the network. scripts/bench.sh measures
// the same paths over loopback with wrk.

func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	srv, err := authserver.New(context.Background(),
		authserver.WithIssuer("http://localhost:5001"),
		authserver.WithFixtures(demoFixtures))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	return r
}

func formReq(path, body, user, pass string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return req
}

func issue(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, formReq("/oauth/token", "grant_type=client_credentials", "service", serviceSecret))
	if rec.Code != 200 {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return body.AccessToken
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	for b.Loop() {
		issue(b, h)
	}
}

// The demo's resource server client has a typed-in secret (argon2id); after
// the first request the verified-secret cache answers.
func BenchmarkIntrospectRepeatedToken(b *testing.B) {
	h := benchHandler(b)
	tok := issue(b, h)
	body := "token=" + tok
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, formReq("/oauth/introspect", body, "resourceserver", "resourceserver-secret"))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"active":true`) {
			b.Fatalf("introspect: %d %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkIntrospectFreshToken(b *testing.B) {
	h := benchHandler(b)
	tokens := make([]string, 2000)
	for i := range tokens {
		tokens[i] = "token=" + issue(b, h)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		// Past the first lap the cache holds them; keep b.N within a lap
		// (-benchtime 2000x) to measure full verification.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, formReq("/oauth/introspect", tokens[i%len(tokens)], "resourceserver", "resourceserver-secret"))
		if rec.Code != 200 {
			b.Fatalf("introspect: %d", rec.Code)
		}
		i++
	}
}
