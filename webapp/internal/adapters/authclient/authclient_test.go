package authclient_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/webapp/internal/adapters/authclient"
	"github.com/oauth2ref/webapp/internal/domain"
)

// A client id and secret with characters that RFC 6749 §2.3.1 says must be
// form-urlencoded before they go into the Basic header.
const (
	clientID     = "web app"
	clientSecret = "s&cr:t%"
	password     = "pa:ss word"
)

var bob = domain.Credentials{Username: "bob", Password: password}

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

func newClient(t *testing.T, tokenURL string, timeout time.Duration) *authclient.Client {
	t.Helper()
	return authclient.New(authclient.Config{TokenURL: tokenURL, ClientID: clientID, ClientSecret: clientSecret}, httpclient.New(timeout))
}

func TestTokenSendsAPasswordGrant(t *testing.T) {
	cases := []struct {
		name, scope string
		wantScope   []string
	}{
		{"one scope", "epoch_time", []string{"epoch_time"}},
		{"no scope asks for the defaults", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got *http.Request
			var form url.Values
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				require.NoError(t, r.ParseForm())
				form = r.PostForm
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":5}`))
			}))
			defer srv.Close()

			tok, err := newClient(t, srv.URL+"/oauth/token", generous).Token(context.Background(), bob, tc.scope)
			require.NoError(t, err)
			assert.Equal(t, domain.Secret("at-1"), tok)

			require.NotNil(t, got)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, "/oauth/token", got.URL.Path)
			assert.Equal(t, "application/x-www-form-urlencoded", got.Header.Get("Content-Type"))
			assert.Equal(t, "password", form.Get("grant_type"))
			assert.Equal(t, "bob", form.Get("username"))
			assert.Equal(t, password, form.Get("password"))
			assert.Equal(t, tc.wantScope, form["scope"])
			assert.NotContains(t, form, "client_id", "client_secret_basic: no credentials in the body")
			assert.NotContains(t, form, "client_secret")

			// client_secret_basic, with id and secret form-urlencoded first.
			user, pass, ok := got.BasicAuth()
			require.True(t, ok, "Basic client authentication")
			assert.Equal(t, "web+app", user)
			assert.Equal(t, "s%26cr%3At%25", pass)
			id, _ := url.QueryUnescape(user)
			secret, _ := url.QueryUnescape(pass)
			assert.Equal(t, clientID, id)
			assert.Equal(t, clientSecret, secret)
		})
	}
}

// hang answers nothing until the client gives up, or for a minute, which
// no short timeout comes near however late it fires. It reads the body
// first: only then does the server watch the connection and see the client
// leave, which lets the test server close promptly.
func hang(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

func TestTokenMapsFailures(t *testing.T) {
	jsonAnswer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	stallBody := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"access_token":`))
		w.(http.Flusher).Flush()
		hang(w, r)
	}

	cases := []struct {
		name     string
		handler  http.HandlerFunc // nil: the server is closed
		timesOut bool             // the point is the client's timeout
		wantCode domain.ErrorCode
		status   int // the status the error reports for the logs; 0, none
		desc     string
	}{
		{"wrong user credentials", jsonAnswer(400, `{"error":"invalid_grant","error_description":"wrong username or password"}`), false,
			domain.InvalidCredentials, 400, "wrong username or password"},
		{"locked out, authserver's words passed on", jsonAnswer(400, `{"error":"invalid_grant","error_description":"too many failed attempts; try again later"}`), false,
			domain.InvalidCredentials, 400, "too many failed attempts; try again later"},
		{"invalid_grant without description", jsonAnswer(400, `{"error":"invalid_grant"}`), false,
			domain.InvalidCredentials, 400, "wrong username or password"},
		{"our client credentials are wrong", jsonAnswer(401, `{"error":"invalid_client","error_description":"client authentication failed"}`), false,
			domain.BadGateway, 401, "the authserver refused the webapp's client credentials (status 401, invalid_client)"},
		{"scope not allowed for the client", jsonAnswer(400, `{"error":"invalid_scope"}`), false,
			domain.BadGateway, 400, "the authserver answered the token request with status 400 (invalid_scope)"},
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, false,
			domain.BadGateway, 500, "the authserver answered the token request with status 500"},
		{"unavailable", jsonAnswer(503, `{"error":"temporarily_unavailable"}`), false,
			domain.Unavailable, 503, "the authserver is unavailable (status 503)"},
		{"unavailable without a body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, false,
			domain.Unavailable, 503, "the authserver is unavailable (status 503)"},
		{"rate limited", jsonAnswer(429, `{}`), false,
			domain.Unavailable, 429, "the authserver is unavailable (status 429)"},
		{"unparsable success", jsonAnswer(200, `<html>hello</html>`), false,
			domain.BadGateway, 0, "the authserver's token response could not be read"},
		{"success without a token", jsonAnswer(200, `{"token_type":"Bearer"}`), false,
			domain.BadGateway, 0, "the authserver's token response could not be read"},
		{"not a bearer token", jsonAnswer(200, `{"access_token":"at","token_type":"mac"}`), false,
			domain.BadGateway, 0, `the authserver issued a token of type "mac", not a bearer token`},
		{"closed server", nil, false,
			domain.Unavailable, 0, "the authserver cannot be reached"},
		{"slower than the timeout", hang, true,
			domain.Unavailable, 0, "the authserver did not answer in time"},
		{"body stalls past the timeout", stallBody, true,
			domain.Unavailable, 0, "the authserver's answer broke off"},
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
			c := newClient(t, srv.URL+"/oauth/token", timeout)

			start := time.Now()
			tok, err := c.Token(context.Background(), bob, "current_time")
			elapsed := time.Since(start)

			require.Error(t, err)
			assert.Empty(t, tok)
			assert.Less(t, elapsed, fast, "fails fast, never hangs")
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.wantCode, de.Code)
			assert.Equal(t, domain.AuthServer, de.Service)
			if tc.status != 0 {
				assert.Contains(t, err.Error(), fmt.Sprintf("status %d", tc.status))
			}
			assert.Equal(t, tc.desc, de.Description)
			assert.NotContains(t, err.Error(), password, "no password in errors")
			assert.NotContains(t, err.Error(), clientSecret, "no client secret in errors")
		})
	}
}

func TestTokenStopsWhenTheCallerGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(hang))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), short)
	defer cancel()

	start := time.Now()
	_, err := newClient(t, srv.URL, generous).Token(ctx, bob, "current_time")
	assert.Less(t, time.Since(start), fast, "the caller's deadline, not the client's timeout")
	assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
}

// The password grant says whom it is made for: the authserver counts
// password attempts by that address when it trusts the webapp as a proxy.
func TestTokenForwardsTheCallersAddress(t *testing.T) {
	var xff []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff = r.Header.Values("X-Forwarded-For")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":5}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL+"/oauth/token", time.Second)

	_, err := c.Token(context.Background(), bob, "")
	require.NoError(t, err)
	assert.Empty(t, xff, "no caller known, nothing forwarded")

	ctx := httpserver.WithClientAddr(context.Background(), netip.MustParseAddr("198.51.100.7"))
	_, err = c.Token(ctx, bob, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"198.51.100.7"}, xff)
}
