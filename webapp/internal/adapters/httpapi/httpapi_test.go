package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/webapp/internal/adapters/httpapi"
	"github.com/oauth2ref/webapp/internal/domain"
)

// fakeTimes is a function-field fake of the use case.
type fakeTimes struct {
	fn func(ctx context.Context, creds domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error)
}

func (f fakeTimes) FetchTime(ctx context.Context, creds domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error) {
	return f.fn(ctx, creds, which)
}

var demo = domain.Credentials{Username: "alice", Password: "alice-password"}

const (
	currentBody = `{"current_time":"2026-11-23T13:45:00Z"}` + "\n"
	epochBody   = `{"epoch_time":1795441500}` + "\n"
)

func newHandler(log *zap.Logger, demoUser domain.Credentials, times httpapi.TimeFetcher) http.Handler {
	return onStack(zapcore.InfoLevel, httpapi.Deps{Log: log, Times: times, DemoUser: demoUser, ClientID: "1234"})
}

// onStack mounts the handler on the shared stack, as run does.
func onStack(accessLevel zapcore.Level, d httpapi.Deps) http.Handler {
	r := httpserver.NewRouter(httpserver.Stack{Log: d.Log, AccessLevel: accessLevel, MaxBodyBytes: 1 << 10,
		Health: httpserver.NewHealth(), Metrics: metrics.New()})
	r.Mount("/", httpapi.NewHandler(d))
	return r
}

func TestTimeEndpoints(t *testing.T) {
	answer := func(_ context.Context, _ domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error) {
		if which == domain.EpochTime {
			return domain.TimeAnswer{Kind: which, Time: time.Unix(1795441500, 0), Raw: []byte(epochBody)}, nil
		}
		return domain.TimeAnswer{Kind: which, Time: time.Unix(1795441500, 0), Raw: []byte(currentBody)}, nil
	}
	failWith := func(err error) func(context.Context, domain.Credentials, domain.TimeKind) (domain.TimeAnswer, error) {
		return func(context.Context, domain.Credentials, domain.TimeKind) (domain.TimeAnswer, error) {
			return domain.TimeAnswer{}, err
		}
	}

	cases := []struct {
		name      string
		method    string
		path      string
		auth      []string // Authorization header values
		demo      domain.Credentials
		fetch     func(context.Context, domain.Credentials, domain.TimeKind) (domain.TimeAnswer, error)
		wantCreds *domain.Credentials // nil: the use case must not be called
		wantKind  domain.TimeKind
		status    int
		body      string
		headers   map[string]string
		logLevel  zapcore.Level // the level of the error line; 0 (info) means none is expected
		userID    string        // user_id on the access line
	}{
		{name: "basic credentials are used", path: "/current_time", auth: []string{basic("bob", "pw:with:colons")}, demo: demo, fetch: answer,
			wantCreds: &domain.Credentials{Username: "bob", Password: "pw:with:colons"}, wantKind: domain.CurrentTime,
			status: 200, body: currentBody, headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, userID: "bob"},
		{name: "demo user without a header", path: "/current_time", demo: demo, fetch: answer,
			wantCreds: &demo, wantKind: domain.CurrentTime,
			status: 200, body: currentBody, headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, userID: "alice"},
		{name: "epoch time", path: "/epoch_time", demo: demo, fetch: answer,
			wantCreds: &demo, wantKind: domain.EpochTime,
			status: 200, body: epochBody, headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, userID: "alice"},
		{name: "no header and no demo user", path: "/current_time", fetch: answer,
			status: 401, body: `{"error":"invalid_credentials","error_description":"no credentials: send a username and password with HTTP Basic authentication"}`,
			headers: map[string]string{"WWW-Authenticate": `Basic realm="webapp", charset="UTF-8"`, "Cache-Control": "no-store"}},
		{name: "basic header that is not base64", path: "/current_time", auth: []string{"Basic !!!"}, demo: demo, fetch: answer,
			status: 400, body: `{"error":"invalid_request","error_description":"the Authorization header is not valid HTTP Basic authentication"}`},
		{name: "basic header without a colon", path: "/current_time", auth: []string{"Basic Ym9i"}, demo: demo, fetch: answer,
			status: 400, body: `{"error":"invalid_request","error_description":"the Authorization header is not valid HTTP Basic authentication"}`},
		{name: "another scheme does not fall back to the demo user", path: "/epoch_time", auth: []string{"Bearer abc"}, demo: demo, fetch: answer,
			status: 400, body: `{"error":"invalid_request","error_description":"the Authorization header is not valid HTTP Basic authentication"}`},
		{name: "two Authorization headers", path: "/epoch_time", auth: []string{basic("a", "b"), basic("c", "d")}, demo: demo, fetch: answer,
			status: 400, body: `{"error":"invalid_request","error_description":"the Authorization header is not valid HTTP Basic authentication"}`},
		{name: "empty password", path: "/current_time", auth: []string{basic("bob", "")}, demo: demo, fetch: answer,
			status: 400, body: `{"error":"invalid_request","error_description":"username and password must not be empty"}`},
		{name: "wrong credentials", path: "/current_time", auth: []string{basic("bob", "nope")}, demo: demo,
			fetch:     failWith(&domain.Error{Code: domain.InvalidCredentials, Service: domain.AuthServer, Description: "wrong username or password"}),
			wantCreds: &domain.Credentials{Username: "bob", Password: "nope"}, wantKind: domain.CurrentTime,
			status: 401, body: `{"error":"invalid_credentials","error_description":"wrong username or password","service":"authserver"}`,
			headers: map[string]string{"WWW-Authenticate": `Basic realm="webapp", charset="UTF-8"`, "Cache-Control": "no-store", "Content-Type": "application/json"}},
		{name: "authserver down", path: "/current_time", demo: demo,
			fetch:     failWith(&domain.Error{Code: domain.Unavailable, Service: domain.AuthServer, Description: "the authserver cannot be reached", Err: errors.New("refused")}),
			wantCreds: &demo, wantKind: domain.CurrentTime,
			status: 503, body: `{"error":"unavailable","error_description":"the authserver cannot be reached","service":"authserver"}`,
			headers: map[string]string{"Retry-After": "1", "Cache-Control": "no-store"}, logLevel: zapcore.WarnLevel},
		{name: "authserver misconfigured", path: "/epoch_time", demo: demo,
			fetch:     failWith(&domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: "the authserver refused the webapp's client credentials (status 401, invalid_client)"}),
			wantCreds: &demo, wantKind: domain.EpochTime,
			status: 502, body: `{"error":"bad_gateway","error_description":"the authserver refused the webapp's client credentials (status 401, invalid_client)","service":"authserver"}`,
			headers: map[string]string{"Cache-Control": "no-store"}, logLevel: zapcore.ErrorLevel},
		{name: "resource server down", path: "/current_time", demo: demo,
			fetch:     failWith(&domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer, Description: "the resourceserver did not answer in time"}),
			wantCreds: &demo, wantKind: domain.CurrentTime,
			status: 503, body: `{"error":"unavailable","error_description":"the resourceserver did not answer in time","service":"resourceserver"}`,
			headers: map[string]string{"Retry-After": "1"}, logLevel: zapcore.WarnLevel, userID: "alice"},
		{name: "resource server refuses the token", path: "/current_time", demo: demo,
			fetch:     failWith(&domain.Error{Code: domain.TokenRejected, Service: domain.ResourceServer, Description: "the resourceserver answered status 401 (invalid_token)"}),
			wantCreds: &demo, wantKind: domain.CurrentTime,
			status: 502, body: `{"error":"bad_gateway","error_description":"the resourceserver answered status 401 (invalid_token)","service":"resourceserver"}`,
			logLevel: zapcore.ErrorLevel, userID: "alice"},
		{name: "unrecognised error", path: "/current_time", demo: demo,
			fetch:     failWith(errors.New("bug")),
			wantCreds: &demo, wantKind: domain.CurrentTime,
			status: 500, body: `{"error":"server_error","error_description":"internal error"}`, logLevel: zapcore.ErrorLevel},
		{name: "wrong method", method: http.MethodPost, path: "/current_time", demo: demo, fetch: answer,
			status: 405, body: `{"error":"method_not_allowed","error_description":"POST is not allowed here"}`},
		{name: "unknown path", path: "/time", demo: demo, fetch: answer,
			status: 404, body: `{"error":"not_found","error_description":"no such endpoint"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			var gotCreds *domain.Credentials
			var gotKind domain.TimeKind
			h := newHandler(zap.New(core), tc.demo, fakeTimes{fn: func(ctx context.Context, creds domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error) {
				gotCreds, gotKind = &creds, which
				return tc.fetch(ctx, creds, which)
			}})

			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tc.path, nil)
			for _, a := range tc.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			assert.Equal(t, tc.status, rec.Code)
			if tc.status == 200 {
				assert.Equal(t, tc.body, rec.Body.String(), "the resource server's body, unchanged")
			} else {
				assert.JSONEq(t, tc.body, rec.Body.String())
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			}
			for k, v := range tc.headers {
				assert.Equal(t, v, rec.Header().Get(k), k)
			}
			if tc.status != 401 {
				assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
			}
			if tc.status != 503 {
				assert.Empty(t, rec.Header().Get("Retry-After"))
			}

			if tc.wantCreds == nil {
				assert.Nil(t, gotCreds, "the use case is not called")
			} else {
				require.NotNil(t, gotCreds, "the use case is called")
				assert.Equal(t, *tc.wantCreds, *gotCreds)
				assert.Equal(t, tc.wantKind, gotKind)
			}

			// Logs: one error or warning line where expected, nothing above
			// info otherwise, the request's ids on the access line, and never
			// a password.
			var problems []observer.LoggedEntry
			for _, e := range logs.All() {
				if e.Level > zapcore.InfoLevel {
					problems = append(problems, e)
				}
				for k, v := range e.ContextMap() {
					s, _ := v.(string)
					for _, pw := range []string{"pw:with:colons", "nope", "alice-password"} {
						assert.NotContains(t, s, pw, "field %s of %q", k, e.Message)
					}
				}
			}
			if tc.logLevel == zapcore.InfoLevel {
				assert.Empty(t, problems)
			} else if assert.Len(t, problems, 1) {
				assert.Equal(t, tc.logLevel, problems[0].Level)
				assert.NotEmpty(t, problems[0].ContextMap()["request_id"])
			}
			access := logs.FilterMessage("request").All()
			require.Len(t, access, 1)
			fields := access[0].ContextMap()
			if tc.status != 404 && tc.status != 405 {
				assert.Equal(t, "1234", fields["client_id"])
			}
			if tc.userID == "" {
				assert.NotContains(t, fields, "user_id", "only a user the authserver accepted is logged")
			} else {
				assert.Equal(t, tc.userID, fields["user_id"])
			}
		})
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// BenchmarkCurrentTime measures the webapp's own share of a /current_time
// call: the middleware stack, credentials parsing and the answer, with the
// upstreams faked out.
func BenchmarkCurrentTime(b *testing.B) {
	body := []byte(currentBody)
	h := newHandler(zap.NewNop(), demo, fakeTimes{fn: func(_ context.Context, _ domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error) {
		return domain.TimeAnswer{Kind: which, Raw: body}, nil
	}})
	auth := basic("bob", "secret")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/current_time", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
