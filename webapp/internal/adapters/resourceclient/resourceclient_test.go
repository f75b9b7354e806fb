package resourceclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/webapp/internal/adapters/resourceclient"
	"github.com/oauth2ref/webapp/internal/domain"
)

const token = domain.Secret("at-secret-1")

// Client timeouts. A call that must succeed gets one no loaded machine
// reaches. A test about timing out gets a short one, and its server hangs
// far longer (see hang), so the outcome never depends on scheduling.
const (
	generous = 30 * time.Second
	short    = 200 * time.Millisecond
	// fast bounds a failure that must not wait for a timeout: under the
	// generous one, over the short one with room for any load.
	fast = 10 * time.Second
)

func TestReadTimeSendsTheBearerToken(t *testing.T) {
	cases := []struct {
		name     string
		kind     domain.TimeKind
		base     string // appended to the server URL
		body     string
		wantPath string
		wantTime time.Time
	}{
		{"current time", domain.CurrentTime, "", `{"current_time":"2026-11-23T13:45:00Z"}` + "\n", "/current_time",
			time.Date(2026, 11, 23, 13, 45, 0, 0, time.UTC)},
		{"current time with offset and fraction", domain.CurrentTime, "", `{"current_time":"2026-11-23T14:45:00.25+01:00"}`, "/current_time",
			time.Date(2026, 11, 23, 13, 45, 0, 250e6, time.UTC)},
		{"epoch time", domain.EpochTime, "", `{"epoch_time":1795441500}`, "/epoch_time", time.Unix(1795441500, 0)},
		{"base with a path and trailing slash", domain.EpochTime, "/api/", `{"epoch_time":1}`, "/api/epoch_time", time.Unix(1, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()

			ans, err := resourceclient.New(srv.URL+tc.base, httpclient.New(generous)).ReadTime(context.Background(), token, tc.kind)
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, http.MethodGet, got.Method)
			assert.Equal(t, tc.wantPath, got.URL.Path)
			assert.Equal(t, "Bearer at-secret-1", got.Header.Get("Authorization"))
			assert.Equal(t, tc.kind, ans.Kind)
			assert.True(t, tc.wantTime.Equal(ans.Time), "time %s, want %s", ans.Time, tc.wantTime)
			assert.Equal(t, tc.body, string(ans.Raw), "the body is kept byte for byte")
		})
	}
}

// hang answers nothing until the client gives up, or for a minute, which
// no short timeout comes near however late it fires.
func hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

func TestReadTimeMapsFailures(t *testing.T) {
	answer := func(status int, header, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if header != "" {
				w.Header().Set("WWW-Authenticate", header)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	stallBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"current_time":`))
		w.(http.Flusher).Flush()
		hang(w, r)
	}

	cases := []struct {
		name     string
		handler  http.HandlerFunc // nil: the server is closed
		timesOut bool             // the point is the client's timeout
		kind     domain.TimeKind
		wantCode domain.ErrorCode
		desc     string
	}{
		{"token refused", answer(401, `Bearer error="invalid_token", error_description="expired"`, `{"error":"invalid_token"}`), false,
			domain.CurrentTime, domain.TokenRejected, "the resourceserver answered status 401 (invalid_token)"},
		{"token refused, code only in the challenge", answer(401, `Bearer realm="rs", error="invalid_token"`, ``), false,
			domain.CurrentTime, domain.TokenRejected, "the resourceserver answered status 401 (invalid_token)"},
		{"scope too narrow", answer(403, `Bearer error="insufficient_scope"`, `{"error":"insufficient_scope","error_description":"needs epoch_time"}`), false,
			domain.EpochTime, domain.NotGranted, "the resourceserver answered status 403 (insufficient_scope)"},
		{"unsafe code is left out", answer(403, ``, `{"error":"<script>"}`), false,
			domain.EpochTime, domain.NotGranted, "the resourceserver answered status 403"},
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, false,
			domain.CurrentTime, domain.BadGateway, "the resourceserver answered status 500"},
		{"unavailable", answer(503, ``, `{"error":"temporarily_unavailable"}`), false,
			domain.CurrentTime, domain.Unavailable, "the resourceserver is unavailable (status 503)"},
		{"not JSON", answer(200, ``, `<html>`), false,
			domain.CurrentTime, domain.BadGateway, "the resourceserver's answer (status 200) could not be read"},
		{"wrong field", answer(200, ``, `{"epoch_time":1}`), false,
			domain.CurrentTime, domain.BadGateway, "the resourceserver's answer (status 200) could not be read"},
		{"not RFC 3339", answer(200, ``, `{"current_time":"yesterday"}`), false,
			domain.CurrentTime, domain.BadGateway, "the resourceserver's answer (status 200) could not be read"},
		{"epoch not an integer", answer(200, ``, `{"epoch_time":"1"}`), false,
			domain.EpochTime, domain.BadGateway, "the resourceserver's answer (status 200) could not be read"},
		{"closed server", nil, false,
			domain.CurrentTime, domain.Unavailable, "the resourceserver cannot be reached"},
		{"slower than the timeout", hang, true,
			domain.CurrentTime, domain.Unavailable, "the resourceserver did not answer in time"},
		{"body stalls past the timeout", stallBody, true,
			domain.CurrentTime, domain.Unavailable, "the resourceserver did not answer in time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			if tc.handler == nil {
				srv.Close()
			} else {
				defer srv.Close()
			}
			timeout := generous
			if tc.timesOut {
				timeout = short
			}
			c := resourceclient.New(srv.URL, httpclient.New(timeout))

			start := time.Now()
			_, err := c.ReadTime(context.Background(), token, tc.kind)
			elapsed := time.Since(start)

			require.Error(t, err)
			assert.Less(t, elapsed, fast, "fails fast, never hangs")
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.wantCode, de.Code)
			assert.Equal(t, domain.ResourceServer, de.Service)
			assert.Equal(t, tc.desc, de.Description)
			assert.NotContains(t, err.Error(), string(token), "no token in errors")
		})
	}
}
