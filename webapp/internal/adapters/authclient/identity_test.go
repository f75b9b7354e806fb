package authclient_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/webapp/internal/adapters/authclient"
	"github.com/oauth2ref/webapp/internal/domain"
	"github.com/oauth2ref/webapp/internal/upstreamtest"
)

// signedIn runs a sign-in of alice at the real authserver with nonce and
// returns its tokens.
func signedIn(t *testing.T, as *upstreamtest.AuthServer, code *authclient.CodeClient, nonce domain.Secret) domain.Tokens {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := code.NewVerifier()
	back := as.Authorize(t, browser, code.AuthCodeURL("st", verifier, nonce), upstreamtest.Alice, "allow")
	u, err := url.Parse(back)
	require.NoError(t, err)
	tok, err := code.Exchange(context.Background(), domain.Secret(u.Query().Get("code")), verifier)
	require.NoError(t, err)
	return tok
}

// TestIdentityAgainstTheAuthserver verifies the real authserver's ID
// tokens with go-oidc, as the webapp is configured: its issuer, the
// webapp's client as audience, its keys from the JWKS.
func TestIdentityAgainstTheAuthserver(t *testing.T) {
	client := upstreamtest.Client{ID: "webapp-rp", Secret: "webapp-rp-secret-0123456789", RedirectURI: redirect}
	as := upstreamtest.NewAuthServer(t, client)
	code := authclient.NewCodeClient(authclient.CodeConfig{
		AuthorizeURL: as.URL + "/oauth/authorize", TokenURL: as.URL + "/oauth/token", RevokeURL: as.URL + "/oauth/revoke",
		ClientID: client.ID, ClientSecret: client.Secret, RedirectURL: redirect, Scopes: []string{"openid", "profile", "current_time"},
	}, httpclient.New(generous))
	identityOf := func(clientID, jwks string) *authclient.Identity {
		return authclient.NewIdentity(authclient.IdentityConfig{
			Issuer: as.URL, ClientID: clientID, JWKSURL: jwks, UserInfoURL: as.URL + "/oauth/userinfo",
		}, httpclient.New(generous))
	}
	id := identityOf(client.ID, as.URL+"/oauth/jwks.json")
	tok := signedIn(t, as, code, "nonce-1")
	require.NotEmpty(t, tok.IDToken, "the exchange keeps the ID token")

	sub, err := id.Verify(t.Context(), tok, "nonce-1")
	require.NoError(t, err)
	assert.Equal(t, "user-alice", sub, "the fixtures' id of alice")
	name, err := id.Name(t.Context(), tok.AccessToken, sub)
	require.NoError(t, err)
	assert.Equal(t, "Alice Example", name)

	refused := func(name string, err error, code domain.ErrorCode) {
		t.Helper()
		assert.Equal(t, code, domain.CodeOf(err), "%s: %v", name, err)
		assert.Equal(t, domain.AuthServer, domain.ServiceOf(err), name)
	}
	_, err = id.Verify(t.Context(), tok, "nonce-2")
	refused("a wrong nonce", err, domain.LoginFailed)
	_, err = id.Verify(t.Context(), tok, "")
	refused("no nonce", err, domain.LoginFailed)
	_, err = identityOf("another-client", as.URL+"/oauth/jwks.json").Verify(t.Context(), tok, "nonce-1")
	refused("an ID token for another audience", err, domain.LoginFailed)
	other := tok
	other.AccessToken = signedIn(t, as, code, "nonce-3").AccessToken
	_, err = id.Verify(t.Context(), other, "nonce-1")
	refused("an access token of another grant (at_hash)", err, domain.LoginFailed)
	forged := tok
	parts := strings.Split(string(tok.IDToken), ".")
	forged.IDToken = domain.Secret(parts[0] + "." + parts[1] + ".c2lnbmF0dXJl")
	_, err = id.Verify(t.Context(), forged, "nonce-1")
	refused("a forged signature", err, domain.LoginFailed)
	_, err = id.Verify(t.Context(), domain.Tokens{AccessToken: tok.AccessToken}, "nonce-1")
	refused("no ID token", err, domain.BadGateway)
	_, err = identityOf(client.ID, "http://127.0.0.1:1/jwks.json").Verify(t.Context(), tok, "nonce-1")
	refused("keys that cannot be fetched", err, domain.Unavailable)
	_, err = id.Name(t.Context(), tok.AccessToken, "someone-else")
	refused("UserInfo about someone else", err, domain.BadGateway)
}
