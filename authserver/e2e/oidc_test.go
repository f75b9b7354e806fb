package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/authserver/authservertest"
)

// TestOpenIDConnectOnTheBinary: the real authserver binary as an OpenID
// Provider to go-oidc, as any relying party would use it: discovery from
// the issuer, the code flow with a nonce through the real pages, the ID
// token verified through the published JWKS, UserInfo, a refresh, and
// prompt=none.
func TestOpenIDConnectOnTheBinary(t *testing.T) {
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	env["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	auth := startOn(t, "authserver", ln, env)
	issuer := auth.url("")

	provider, err := oidc.NewProvider(t.Context(), issuer)
	require.NoError(t, err, "discovery at %s/.well-known/openid-configuration", issuer)
	conf := oauth2.Config{ClientID: authservertest.Client, ClientSecret: authservertest.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: authservertest.Callback, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: authservertest.Client})

	b := authservertest.New(t, issuer)
	pkce := oauth2.GenerateVerifier()
	back := b.Authorize(conf.AuthCodeURL("st", oidc.Nonce("n-e2e"), oauth2.S256ChallengeOption(pkce)), "alice", "alice-password", "allow")
	u, err := url.Parse(back)
	require.NoError(t, err)
	assert.Equal(t, issuer, u.Query().Get("iss"))
	tok, err := conf.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(pkce))
	require.NoError(t, err)
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(t.Context(), raw)
	require.NoError(t, err)
	assert.Equal(t, "5b8f3c2e-4a1d-4e7b-9c6a-2d1f0e8b7a93", idt.Subject)
	assert.Equal(t, "n-e2e", idt.Nonce)
	require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
	_, err = provider.Verifier(&oidc.Config{ClientID: "service"}).Verify(t.Context(), raw)
	assert.Error(t, err, "not for another audience")

	info, err := provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	var profile struct{ Name string }
	require.NoError(t, info.Claims(&profile))
	assert.Equal(t, "Alice Example", profile.Name)
	assert.Equal(t, "alice@example.com", info.Email)
	assert.True(t, info.EmailVerified)

	// The RS256 key is published beside the access tokens' ES256 one.
	jwks := getJSON(t, issuer+"/oauth/jwks.json")
	var algs []string
	for _, k := range jwks.body["keys"].([]any) {
		algs = append(algs, k.(map[string]any)["alg"].(string))
	}
	assert.ElementsMatch(t, []string{"ES256", "RS256"}, algs)

	time.Sleep(1100 * time.Millisecond)
	fresh, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	require.NoError(t, err)
	again, err := verifier.Verify(t.Context(), fresh.Extra("id_token").(string))
	require.NoError(t, err, "a refresh brings a new ID token")
	assert.Equal(t, idt.Subject, again.Subject)
	assert.True(t, again.IssuedAt.After(idt.IssuedAt))

	silent := b.Get(conf.AuthCodeURL("st2", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	require.Equal(t, http.StatusFound, silent.Status)
	assert.NotEmpty(t, mustQuery(t, silent.Location).Get("code"), "signed in and consented: a code with no page")
	anon := authservertest.New(t, issuer).Get(conf.AuthCodeURL("st3", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	assert.Equal(t, "login_required", mustQuery(t, anon.Location).Get("error"))
}

func getJSON(t *testing.T, u string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	return send(t, req)
}

func mustQuery(t *testing.T, location string) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	return u.Query()
}
