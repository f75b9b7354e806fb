package introspector_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/introspection"
	"github.com/oauth2ref/resourceserver/internal/adapters/introspector"
	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// fakeAuthserver is an RFC 7662 endpoint that knows one client and answers
// each token with a canned response.
func fakeAuthserver(t testing.TB, answers map[string]func(w http.ResponseWriter)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || !ok || id != "resourceserver" || secret != "resourceserver-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		answer, found := answers[r.PostForm.Get("token")]
		if !found {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		answer(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func body(s string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(s))
	}
}

func status(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

// generous is the introspection timeout of calls that must succeed: no
// loaded machine reaches it.
const generous = 30 * time.Second

func newVerifier(endpoint, secret string, timeout time.Duration) *introspector.Verifier {
	return introspector.New(introspection.NewClient(endpoint, "resourceserver", secret, httpclient.New(timeout)))
}

func TestVerifyToken(t *testing.T) {
	srv := fakeAuthserver(t, map[string]func(http.ResponseWriter){
		"good": body(`{"active":true,"scope":"current_time epoch_time","client_id":"1234","sub":"alice",` +
			`"aud":"resourceserver","token_type":"Bearer","exp":1700000005,"iat":1700000000}`),
		"many-aud":  body(`{"active":true,"scope":"current_time","client_id":"service","sub":"service","aud":["x","resourceserver"]}`),
		"other-aud": body(`{"active":true,"scope":"current_time","client_id":"1234","sub":"alice","aud":"webapp"}`),
		"leaky":     body(`{"active":false,"scope":"current_time","client_id":"1234"}`),
		"garbage":   body(`<html>oops</html>`),
		"boom":      status(http.StatusInternalServerError),
		"busy":      status(http.StatusServiceUnavailable),
		"forbidden": status(http.StatusForbidden),
	})

	cases := []struct {
		name    string
		secret  string
		token   string
		want    domain.Token
		wantErr error
	}{
		{name: "active", token: "good", want: domain.Token{
			ClientID: "1234", Subject: "alice", Scope: []string{"current_time", "epoch_time"},
			Audience: []string{"resourceserver"}, TokenType: "Bearer", ExpiresAt: time.Unix(1700000005, 0).UTC(),
		}},
		{name: "audience array", token: "many-aud", want: domain.Token{
			ClientID: "service", Subject: "service", Scope: []string{"current_time"}, Audience: []string{"x", "resourceserver"},
		}},
		// The adapter reports what the server said; the audience rule is the
		// app's (see TestAudienceIsCheckedEndToEnd).
		{name: "other audience is passed up", token: "other-aud", want: domain.Token{
			ClientID: "1234", Subject: "alice", Scope: []string{"current_time"}, Audience: []string{"webapp"},
		}},
		{name: "inactive", token: "unknown", wantErr: domain.ErrTokenInactive},
		{name: "inactive with extra members", token: "leaky", wantErr: domain.ErrTokenInactive},
		{name: "malformed answer", token: "garbage", wantErr: domain.ErrUnavailable},
		{name: "500", token: "boom", wantErr: domain.ErrUnavailable},
		{name: "503", token: "busy", wantErr: domain.ErrUnavailable},
		{name: "our credentials rejected (401)", secret: "wrong", token: "good", wantErr: domain.ErrCredentialsRejected},
		{name: "our credentials rejected (403)", token: "forbidden", wantErr: domain.ErrCredentialsRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret := tc.secret
			if secret == "" {
				secret = "resourceserver-secret"
			}
			got, err := newVerifier(srv.URL, secret, generous).VerifyToken(context.Background(), tc.token)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, domain.Token{}, got)
				if !errors.Is(tc.wantErr, domain.ErrTokenInactive) {
					assert.NotErrorIs(t, err, domain.ErrTokenInactive, "no answer is not a no")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRejectedIsAKindOfUnavailable(t *testing.T) {
	srv := fakeAuthserver(t, nil)
	_, err := newVerifier(srv.URL, "wrong", generous).VerifyToken(context.Background(), "t")
	assert.ErrorIs(t, err, domain.ErrCredentialsRejected)
	assert.ErrorIs(t, err, domain.ErrUnavailable, "callers that only know unavailable still answer 503")
}

func TestUnreachableIsUnavailableQuickly(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Unblock the handler before Close waits for it.
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })

	cases := []struct {
		name     string
		endpoint string
	}{
		{"closed server", closedURL},
		{"server slower than the timeout", slow.URL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The slow server answers only when the test ends, so however
			// late this timeout fires, it fires first.
			const timeout = 300 * time.Millisecond
			start := time.Now()
			_, err := newVerifier(tc.endpoint, "resourceserver-secret", timeout).VerifyToken(context.Background(), "good")
			elapsed := time.Since(start)
			require.ErrorIs(t, err, domain.ErrUnavailable)
			assert.NotErrorIs(t, err, domain.ErrCredentialsRejected)
			assert.Less(t, elapsed, 10*time.Second, "bounded by the introspection timeout")
		})
	}
}

func TestAudienceIsCheckedEndToEnd(t *testing.T) {
	srv := fakeAuthserver(t, map[string]func(http.ResponseWriter){
		"ours":   body(`{"active":true,"scope":"current_time","aud":["resourceserver"]}`),
		"theirs": body(`{"active":true,"scope":"current_time","aud":"webapp"}`),
		"none":   body(`{"active":true,"scope":"current_time"}`),
	})
	auth := app.NewAuthenticator(newVerifier(srv.URL, "resourceserver-secret", generous), "resourceserver")
	cases := []struct {
		token   string
		wantErr error
	}{
		{"ours", nil},
		{"theirs", domain.ErrTokenInactive},
		{"none", domain.ErrTokenInactive},
	}
	for _, tc := range cases {
		t.Run(tc.token, func(t *testing.T) {
			_, err := auth.Authenticate(context.Background(), tc.token)
			if tc.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestEveryCallAsks(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"active":true}`))
	}))
	defer srv.Close()
	v := newVerifier(srv.URL, "resourceserver-secret", generous)
	for range 3 {
		_, err := v.VerifyToken(context.Background(), "t")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, calls.Load())
}

// BenchmarkVerifyToken measures one introspection round trip over a reused
// connection, which is the cost every protected request pays.
func BenchmarkVerifyToken(b *testing.B) {
	srv := fakeAuthserver(b, map[string]func(http.ResponseWriter){
		"good": body(`{"active":true,"scope":"current_time epoch_time","client_id":"1234","sub":"alice","aud":"resourceserver","token_type":"Bearer","exp":1700000005}`),
	})
	v := newVerifier(srv.URL, "resourceserver-secret", generous)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyToken(ctx, "good"); err != nil {
			b.Fatal(err)
		}
	}
}
