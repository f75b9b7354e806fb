package authclient_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/webapp/internal/adapters/authclient"
	"github.com/oauth2ref/webapp/internal/domain"
)

const redirect = "http://localhost:5003/callback"

func newCodeClient(base string, timeout time.Duration) *authclient.CodeClient {
	return authclient.NewCodeClient(authclient.CodeConfig{
		AuthorizeURL:          base + "/oauth/authorize",
		TokenURL:              base + "/oauth/token",
		RevokeURL:             base + "/oauth/revoke",
		ClientID:              clientID,
		ClientSecret:          clientSecret,
		RedirectURL:           redirect,
		Scopes:                []string{"openid", "profile", "current_time", "epoch_time"},
		EndSessionURL:         base + "/oauth/end_session",
		PostLogoutRedirectURL: "http://localhost:5003/",
	}, httpclient.New(timeout))
}

// request is what a fake endpoint saw.
type request struct {
	path     string
	form     url.Values
	id, pass string
	basic    bool
}

func recordingServer(t *testing.T, status int, body string) (*httptest.Server, *[]request) {
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		user, pass, ok := r.BasicAuth()
		id, _ := url.QueryUnescape(user)
		secret, _ := url.QueryUnescape(pass)
		got = append(got, request{path: r.URL.Path, form: r.PostForm, id: id, pass: secret, basic: ok})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestAuthCodeURL(t *testing.T) {
	c := newCodeClient("https://as.example", generous)
	v := c.NewVerifier()
	assert.Len(t, v, 43, "32 random octets, base64url")
	assert.NotEqual(t, v, c.NewVerifier())

	u, err := url.Parse(c.AuthCodeURL("state-1", v, "nonce-1"))
	require.NoError(t, err)
	assert.Equal(t, "https://as.example/oauth/authorize", u.Scheme+"://"+u.Host+u.Path)
	sum := sha256.Sum256([]byte(v))
	assert.Equal(t, url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"scope":                 {"openid profile current_time epoch_time"},
		"state":                 {"state-1"},
		"nonce":                 {"nonce-1"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}, u.Query())
}

func TestEndSessionURL(t *testing.T) {
	u, err := url.Parse(newCodeClient("https://as.example", generous).EndSessionURL("idt-1"))
	require.NoError(t, err)
	assert.Equal(t, "https://as.example/oauth/end_session", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, url.Values{
		"id_token_hint":            {"idt-1"},
		"client_id":                {clientID},
		"post_logout_redirect_uri": {"http://localhost:5003/"},
	}, u.Query(), "RP-Initiated Logout §2")
	none := authclient.NewCodeClient(authclient.CodeConfig{ClientID: clientID}, httpclient.New(generous))
	assert.Empty(t, none.EndSessionURL("idt-1"), "no end_session endpoint configured: sign out here only")
}

func TestExchange(t *testing.T) {
	srv, got := recordingServer(t, 200, `{"access_token":"at-1","token_type":"Bearer","expires_in":300,"refresh_token":"rt-1","id_token":"idt-1"}`)
	start := time.Now()
	tok, err := newCodeClient(srv.URL, generous).Exchange(context.Background(), "code-1", "verifier-1")
	require.NoError(t, err)
	assert.Equal(t, domain.Secret("at-1"), tok.AccessToken)
	assert.Equal(t, domain.Secret("rt-1"), tok.RefreshToken)
	assert.Equal(t, domain.Secret("idt-1"), tok.IDToken)
	assert.WithinDuration(t, start.Add(300*time.Second), tok.Expiry, 30*time.Second, "expires_in from when it answered")

	require.Len(t, *got, 1)
	r := (*got)[0]
	assert.Equal(t, "/oauth/token", r.path)
	assert.Equal(t, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {"code-1"},
		"redirect_uri":  {redirect},
		"code_verifier": {"verifier-1"},
	}, r.form, "no client credentials in the body")
	assert.True(t, r.basic, "client_secret_basic")
	assert.Equal(t, clientID, r.id)
	assert.Equal(t, clientSecret, r.pass)
}

func TestExchangeFailures(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		wantCode domain.ErrorCode
		desc     string
	}{
		{"code refused", 400, `{"error":"invalid_grant"}`, domain.LoginFailed,
			"the authserver did not accept the sign-in code (it may have expired); sign in again"},
		{"client refused", 401, `{"error":"invalid_client"}`, domain.BadGateway,
			"the authserver refused the webapp's client credentials (status 401, invalid_client)"},
		{"unavailable", 503, `{"error":"temporarily_unavailable"}`, domain.Unavailable, "the authserver is unavailable (status 503)"},
		{"other error", 400, `{"error":"unauthorized_client"}`, domain.BadGateway,
			"the authserver answered the code exchange with status 400 (unauthorized_client)"},
		{"unsafe error code left out", 400, `{"error":"<b>"}`, domain.BadGateway,
			"the authserver answered the code exchange with status 400"},
		{"not a bearer token", 200, `{"access_token":"at","token_type":"mac"}`, domain.BadGateway,
			`the authserver issued a token of type "mac", not a bearer token`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := recordingServer(t, tc.status, tc.body)
			_, err := newCodeClient(srv.URL, generous).Exchange(context.Background(), "code-1", "v")
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.wantCode, de.Code)
			assert.Equal(t, domain.AuthServer, de.Service)
			assert.Equal(t, tc.desc, de.Description)
			assert.NotContains(t, err.Error(), clientSecret)
		})
	}
}

func TestFresh(t *testing.T) {
	valid := domain.Tokens{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour), IDToken: "idt-1"}
	expired := valid
	expired.Expiry = time.Now().Add(5 * time.Second) // inside x/oauth2's 10 s margin

	cases := []struct {
		name      string
		in        domain.Tokens
		status    int
		body      string
		want      domain.Tokens
		wantCalls int
		wantCode  domain.ErrorCode
	}{
		{name: "valid token, no refresh", in: valid, want: valid},
		{name: "no expiry is taken as valid", in: domain.Tokens{AccessToken: "at-1", RefreshToken: "rt-1"},
			want: domain.Tokens{AccessToken: "at-1", RefreshToken: "rt-1"}},
		{name: "expired: refreshed, new refresh token and ID token kept", in: expired, wantCalls: 1, status: 200,
			body: `{"access_token":"at-2","token_type":"Bearer","expires_in":300,"refresh_token":"rt-2","id_token":"idt-2"}`,
			want: domain.Tokens{AccessToken: "at-2", RefreshToken: "rt-2", TokenType: "Bearer", IDToken: "idt-2"}},
		{name: "expired: refreshed without rotation keeps the old refresh token, and without an ID token the old one", in: expired, wantCalls: 1, status: 200,
			body: `{"access_token":"at-2","token_type":"Bearer","expires_in":300}`,
			want: domain.Tokens{AccessToken: "at-2", RefreshToken: "rt-1", TokenType: "Bearer", IDToken: "idt-1"}},
		{name: "refresh refused ends the session", in: expired, wantCalls: 1, status: 400,
			body: `{"error":"invalid_grant"}`, wantCode: domain.SessionEnded},
		{name: "expired without a refresh token ends the session",
			in: domain.Tokens{AccessToken: "at-1", Expiry: time.Now().Add(-time.Minute)}, wantCode: domain.SessionEnded},
		{name: "authserver unavailable", in: expired, wantCalls: 1, status: 503, body: `{}`, wantCode: domain.Unavailable},
		{name: "client refused", in: expired, wantCalls: 1, status: 401, body: `{"error":"invalid_client"}`, wantCode: domain.BadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recordingServer(t, tc.status, tc.body)
			out, err := newCodeClient(srv.URL, generous).Fresh(context.Background(), tc.in)
			require.Len(t, *got, tc.wantCalls)
			if tc.wantCalls == 1 {
				r := (*got)[0]
				assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-1"}}, r.form)
				assert.Equal(t, clientID, r.id)
				assert.Equal(t, clientSecret, r.pass)
			}
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, domain.CodeOf(err))
				assert.Equal(t, domain.AuthServer, domain.ServiceOf(err))
				return
			}
			require.NoError(t, err)
			if tc.wantCalls == 1 {
				assert.WithinDuration(t, time.Now().Add(300*time.Second), out.Expiry, 30*time.Second, "expires_in from when it answered")
				out.Expiry = time.Time{}
			}
			assert.Equal(t, tc.want, out)
		})
	}
}

func TestFreshWhenTheAuthserverIsDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(hang))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	expired := domain.Tokens{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}
	for name, base := range map[string]string{"hangs": srv.URL, "closed": closed.URL} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := newCodeClient(base, short).Fresh(context.Background(), expired)
			assert.Less(t, time.Since(start), fast)
			assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
		})
	}
}

func TestRevoke(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		wantCode domain.ErrorCode
	}{
		{"revoked", 200, ""},
		{"unavailable", 503, domain.Unavailable},
		{"refused", 401, domain.BadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recordingServer(t, tc.status, `{}`)
			err := newCodeClient(srv.URL, generous).Revoke(context.Background(), "rt-1")
			if tc.wantCode == "" {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, tc.wantCode, domain.CodeOf(err))
				assert.Equal(t, domain.AuthServer, domain.ServiceOf(err))
			}
			require.Len(t, *got, 1)
			r := (*got)[0]
			assert.Equal(t, "/oauth/revoke", r.path)
			assert.Equal(t, url.Values{"token": {"rt-1"}, "token_type_hint": {"refresh_token"}}, r.form)
			assert.True(t, r.basic)
			assert.Equal(t, clientID, r.id)
			assert.Equal(t, clientSecret, r.pass)
		})
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	err := newCodeClient(closed.URL, generous).Revoke(context.Background(), "rt-1")
	assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
}
