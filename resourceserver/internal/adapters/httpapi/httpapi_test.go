package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/resourceserver/internal/adapters/httpapi"
	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// fakeVerifier stands in for the authorization server.
type fakeVerifier struct {
	verify func(ctx context.Context, token string) (domain.Token, error)
	seen   []string
}

func (f *fakeVerifier) VerifyToken(ctx context.Context, token string) (domain.Token, error) {
	f.seen = append(f.seen, token)
	return f.verify(ctx, token)
}

// demoVerifier knows a handful of tokens, named for what they are.
// verifierFunc is a verifier that records nothing, for benchmarks.
type verifierFunc func(ctx context.Context, token string) (domain.Token, error)

func (f verifierFunc) VerifyToken(ctx context.Context, token string) (domain.Token, error) {
	return f(ctx, token)
}

func demoVerifier() *fakeVerifier {
	tok := func(scope ...string) domain.Token {
		return domain.Token{ClientID: "1234", Subject: "alice", Scope: scope, Audience: []string{"resourceserver"}, TokenType: "Bearer"}
	}
	return &fakeVerifier{verify: func(_ context.Context, token string) (domain.Token, error) {
		switch token {
		case "both", "both==":
			return tok("current_time", "epoch_time"), nil
		case "ct-only":
			return tok("current_time"), nil
		case "no-scope":
			return tok(), nil
		case "other-aud":
			t := tok("current_time", "epoch_time")
			t.Audience = []string{"webapp"}
			return t, nil
		case "down":
			return domain.Token{}, fmt.Errorf("%w: dial tcp: connection refused", domain.ErrUnavailable)
		case "rejected":
			return domain.Token{}, fmt.Errorf("%w: status 401", domain.ErrCredentialsRejected)
		}
		return domain.Token{}, domain.ErrTokenInactive
	}}
}

var fixed = time.Date(2024, 2, 29, 12, 14, 15, 500_000_000, time.UTC)

func newHandler(v app.TokenVerifier, log *zap.Logger) http.Handler {
	clock := func() time.Time { return fixed }
	return httpapi.NewHandler(httpapi.Deps{
		Log:         log,
		Tokens:      app.NewAuthenticator(v, "resourceserver"),
		CurrentTime: app.NewCurrentTime(clock),
		EpochTime:   app.NewEpochTime(clock),
	})
}

const (
	noError      = `Bearer realm="resourceserver"`
	inactive     = `Bearer realm="resourceserver", error="invalid_token", error_description="the access token is invalid or expired"`
	inactiveBody = `{"error":"invalid_token","error_description":"the access token is invalid or expired"}`
	unavailable  = `{"error":"temporarily_unavailable","error_description":"the authorization server is unavailable"}`
	missingBody  = `{"error":"unauthorized","error_description":"a bearer token is required"}`
)

func TestProtectedEndpoints(t *testing.T) {
	cases := []struct {
		name string
		path string
		// auth holds the Authorization header values to send.
		auth       []string
		wantStatus int
		wantBody   string
		// wantChallenge is the exact WWW-Authenticate; "" means none.
		wantChallenge  string
		wantRetryAfter string
		// wantAsked is the token the authorization server is asked about;
		// "" means it must not be asked at all.
		wantAsked string
	}{
		{name: "current_time granted", path: "/current_time", auth: []string{"Bearer both"},
			wantStatus: 200, wantBody: `{"current_time":"2024-02-29T12:14:15Z"}`, wantAsked: "both"},
		{name: "epoch_time granted", path: "/epoch_time", auth: []string{"Bearer both"},
			wantStatus: 200, wantBody: `{"epoch_time":1709208855}`, wantAsked: "both"},
		{name: "scheme is case-insensitive", path: "/current_time", auth: []string{"bEaReR both"},
			wantStatus: 200, wantBody: `{"current_time":"2024-02-29T12:14:15Z"}`, wantAsked: "both"},
		{name: "several spaces after the scheme", path: "/current_time", auth: []string{"Bearer   both"},
			wantStatus: 200, wantBody: `{"current_time":"2024-02-29T12:14:15Z"}`, wantAsked: "both"},
		{name: "b64token padding", path: "/epoch_time", auth: []string{"Bearer both=="},
			wantStatus: 200, wantBody: `{"epoch_time":1709208855}`, wantAsked: "both=="},

		{name: "no Authorization header", path: "/current_time",
			wantStatus: 401, wantBody: missingBody, wantChallenge: noError},
		{name: "another scheme", path: "/current_time", auth: []string{"Basic YWxpY2U6cHc="},
			wantStatus: 401, wantBody: missingBody, wantChallenge: noError},
		{name: "scheme glued to token", path: "/epoch_time", auth: []string{"Bearerboth"},
			wantStatus: 401, wantBody: missingBody, wantChallenge: noError},
		{name: "empty Authorization header", path: "/epoch_time", auth: []string{""},
			wantStatus: 401, wantBody: missingBody, wantChallenge: noError},

		{name: "Bearer with no token", path: "/current_time", auth: []string{"Bearer"},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is empty"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is empty"`},
		{name: "Bearer and spaces", path: "/current_time", auth: []string{"Bearer   "},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is empty"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is empty"`},
		{name: "token with a space", path: "/current_time", auth: []string{"Bearer both extra"},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is malformed"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is malformed"`},
		{name: "token with a quote", path: "/epoch_time", auth: []string{`Bearer ab"c`},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is malformed"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is malformed"`},
		{name: "padding only", path: "/epoch_time", auth: []string{"Bearer =="},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is malformed"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is malformed"`},
		{name: "padding in the middle", path: "/epoch_time", auth: []string{"Bearer ab=cd"},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is malformed"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is malformed"`},
		{name: "non-ASCII token", path: "/epoch_time", auth: []string{"Bearer tökén"},
			wantStatus: 401, wantBody: `{"error":"invalid_token","error_description":"the bearer token is malformed"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_token", error_description="the bearer token is malformed"`},
		{name: "two Authorization headers", path: "/current_time", auth: []string{"Bearer both", "Bearer ct-only"},
			wantStatus: 400, wantBody: `{"error":"invalid_request","error_description":"send one Authorization header"}`,
			wantChallenge: `Bearer realm="resourceserver", error="invalid_request", error_description="send one Authorization header"`},

		{name: "inactive token", path: "/current_time", auth: []string{"Bearer expired"},
			wantStatus: 401, wantBody: inactiveBody, wantChallenge: inactive, wantAsked: "expired"},
		{name: "token for another audience", path: "/epoch_time", auth: []string{"Bearer other-aud"},
			wantStatus: 401, wantBody: inactiveBody, wantChallenge: inactive, wantAsked: "other-aud"},

		{name: "scope lacks epoch_time", path: "/epoch_time", auth: []string{"Bearer ct-only"},
			wantStatus: 403, wantBody: `{"error":"insufficient_scope","error_description":"the access token does not grant the epoch_time scope","scope":"epoch_time"}`,
			wantChallenge: `Bearer realm="resourceserver", error="insufficient_scope", scope="epoch_time"`, wantAsked: "ct-only"},
		{name: "no scope at all", path: "/current_time", auth: []string{"Bearer no-scope"},
			wantStatus: 403, wantBody: `{"error":"insufficient_scope","error_description":"the access token does not grant the current_time scope","scope":"current_time"}`,
			wantChallenge: `Bearer realm="resourceserver", error="insufficient_scope", scope="current_time"`, wantAsked: "no-scope"},

		{name: "authorization server down", path: "/current_time", auth: []string{"Bearer down"},
			wantStatus: 503, wantBody: unavailable, wantRetryAfter: "1", wantAsked: "down"},
		{name: "our credentials rejected", path: "/epoch_time", auth: []string{"Bearer rejected"},
			wantStatus: 503, wantBody: unavailable, wantRetryAfter: "1", wantAsked: "rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := demoVerifier()
			h := newHandler(v, zap.NewNop())
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			for _, a := range tc.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			assert.Equal(t, tc.wantStatus, rec.Code)
			assert.JSONEq(t, tc.wantBody, rec.Body.String())
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, tc.wantChallenge, rec.Header().Get("WWW-Authenticate"))
			assert.Len(t, rec.Header().Values("WWW-Authenticate"), len(nonEmpty(tc.wantChallenge)))
			assert.Equal(t, tc.wantRetryAfter, rec.Header().Get("Retry-After"))
			if tc.wantAsked == "" {
				assert.Empty(t, v.seen, "the authorization server is not asked")
			} else {
				assert.Equal(t, []string{tc.wantAsked}, v.seen, "asked exactly once, about exactly this token")
			}
		})
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func TestCurrentTimeIsRFC3339UTC(t *testing.T) {
	h := newHandler(demoVerifier(), zap.NewNop())
	req := httptest.NewRequest(http.MethodGet, "/current_time", nil)
	req.Header.Set("Authorization", "Bearer both")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	var body struct {
		CurrentTime string `json:"current_time"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	got, err := time.Parse(time.RFC3339, body.CurrentTime)
	require.NoError(t, err)
	assert.True(t, got.Equal(fixed.Truncate(time.Second)))
	assert.True(t, strings.HasSuffix(body.CurrentTime, "Z"))
}

// serveLogged runs the handler behind the real router stack, as run does, and
// returns what was logged.
func serveLogged(t *testing.T, method, path, auth string) (*httptest.ResponseRecorder, []map[string]any, string) {
	var buf bytes.Buffer
	log, err := zaplog.New(&buf, "info")
	require.NoError(t, err)
	r := httpserver.NewRouter(httpserver.Stack{Log: log, AccessLevel: zapcore.InfoLevel, MaxBodyBytes: 1 << 10, Health: httpserver.NewHealth()})
	r.Mount("/", newHandler(demoVerifier(), log))
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)

	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(l, &m), string(l))
		lines = append(lines, m)
	}
	return rec, lines, buf.String()
}

func TestLogging(t *testing.T) {
	cases := []struct {
		name       string
		auth       string
		path       string
		wantStatus int
		// wantLevel and wantMsg describe the one line logged besides the
		// access log; "" means there is none.
		wantLevel, wantMsg string
		wantIDs            bool
	}{
		{name: "granted", auth: "Bearer both", path: "/current_time", wantStatus: 200, wantIDs: true},
		{name: "insufficient scope still names the caller", auth: "Bearer ct-only", path: "/epoch_time", wantStatus: 403, wantIDs: true},
		{name: "inactive is not worth a line", auth: "Bearer expired", path: "/epoch_time", wantStatus: 401},
		{name: "malformed is not worth a line", auth: "Bearer a b", path: "/epoch_time", wantStatus: 401},
		{name: "down is a warning", auth: "Bearer down", path: "/epoch_time", wantStatus: 503,
			wantLevel: "warn", wantMsg: "authorization server unavailable"},
		{name: "rejected credentials are an error", auth: "Bearer rejected", path: "/epoch_time", wantStatus: 503,
			wantLevel: "error", wantMsg: "introspection refused our client credentials; check introspection.client_id and client_secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, lines, raw := serveLogged(t, http.MethodGet, tc.path, tc.auth)
			require.Equal(t, tc.wantStatus, rec.Code)
			token := strings.TrimPrefix(tc.auth, "Bearer ")
			assert.NotContains(t, raw, `"`+token+`"`, "the token is never logged")

			access := lines[len(lines)-1]
			assert.Equal(t, "request", access["msg"])
			assert.EqualValues(t, tc.wantStatus, access["status"])
			if tc.wantIDs {
				assert.Equal(t, "1234", access["client_id"])
				assert.Equal(t, "alice", access["user_id"])
			} else {
				assert.NotContains(t, access, "client_id")
				assert.NotContains(t, access, "user_id")
			}
			if tc.wantMsg == "" {
				assert.Len(t, lines, 1, "only the access log")
				return
			}
			require.Len(t, lines, 2)
			assert.Equal(t, tc.wantLevel, lines[0]["level"])
			assert.Equal(t, tc.wantMsg, lines[0]["msg"])
			assert.NotEmpty(t, lines[0]["request_id"])
		})
	}
}

func TestUnknownRoutesThroughTheRouter(t *testing.T) {
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/current_time/extra", 404},
		{http.MethodPost, "/current_time", 405},
		{http.MethodDelete, "/epoch_time", 405},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec, _, _ := serveLogged(t, tc.method, tc.path, "")
			assert.Equal(t, tc.want, rec.Code)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			assert.Empty(t, rec.Header().Get("WWW-Authenticate"), "routing is decided before the token")
		})
	}
}

// BenchmarkBearerCheck measures the edge's own cost per protected request:
// header parsing, the use cases, the response. The authorization server is
// a fake, so the round trip is not counted here (see the introspector's).
func BenchmarkBearerCheck(b *testing.B) {
	h := newHandler(verifierFunc(func(context.Context, string) (domain.Token, error) {
		return domain.Token{ClientID: "1234", Subject: "alice", Scope: []string{"current_time"}, Audience: []string{"resourceserver"}}, nil
	}), zap.NewNop())
	req := httptest.NewRequest(http.MethodGet, "/current_time", nil)
	req.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
