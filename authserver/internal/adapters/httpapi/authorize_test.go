package httpapi

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

func TestReadAuthorizeNamesARepeatedParameter(t *testing.T) {
	req := readAuthorize(url.Values{"client_id": {"a"}, "scope": {"x", "y"}, "unknown": {"1", "2"}})
	assert.Equal(t, "a", req.ClientID)
	assert.Equal(t, "x", req.Scope, "the first value")
	assert.Equal(t, "scope", req.Repeated, "only the request's own parameters count")
	assert.Empty(t, readAuthorize(url.Values{"client_id": {"a"}}).Repeated)
}

func TestReadEndSessionNamesARepeatedParameterAndRoundTrips(t *testing.T) {
	v := url.Values{"id_token_hint": {"h"}, "state": {"s1", "s2"}, "post_logout_redirect_uri": {"https://rp.example/bye"}}
	req := readEndSession(v)
	assert.Equal(t, "h", req.IDTokenHint)
	assert.Equal(t, "state", req.Repeated)
	assert.Equal(t, url.Values{"id_token_hint": {"h"}, "state": {"s1"}, "post_logout_redirect_uri": {"https://rp.example/bye"}},
		endSessionValues(req), "the confirmation form carries the request again, each value once")
}

func TestResponseURL(t *testing.T) {
	cases := []struct {
		name string
		resp app.Response
		want string
	}{
		{"code in the query, the registered query kept",
			app.Response{RedirectURI: "https://app.example/cb?keep=1", State: "s", Issuer: "https://as.example", Code: "c1"},
			"https://app.example/cb?code=c1&iss=https%3A%2F%2Fas.example&keep=1&state=s"},
		{"no state, none sent",
			app.Response{RedirectURI: "https://app.example/cb", Issuer: "https://as.example", Code: "c1"},
			"https://app.example/cb?code=c1&iss=https%3A%2F%2Fas.example"},
		{"an error with its description",
			app.Response{RedirectURI: "https://app.example/cb", State: "s", Issuer: "https://as.example",
				Err: domain.Errorf(domain.AccessDenied, "the user denied the request")},
			"https://app.example/cb?error=access_denied&error_description=the+user+denied+the+request&iss=https%3A%2F%2Fas.example&state=s"},
		{"implicit: the token in the fragment, never a refresh token",
			app.Response{RedirectURI: "https://legacy.example/cb", Fragment: true, State: "s", Issuer: "https://as.example",
				Token: &app.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 60, RefreshToken: "rt", Scope: domain.NewScope("a", "b")}},
			"https://legacy.example/cb#access_token=at&expires_in=60&iss=https%3A%2F%2Fas.example&scope=a+b&state=s&token_type=Bearer"},
		{"implicit error in the fragment",
			app.Response{RedirectURI: "https://legacy.example/cb", Fragment: true, Issuer: "https://as.example",
				Err: &domain.Error{Code: domain.InvalidScope}},
			"https://legacy.example/cb#error=invalid_scope&iss=https%3A%2F%2Fas.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, responseURL(tc.resp))
		})
	}
}
