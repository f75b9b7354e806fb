package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const refresherClient, refresherSecret = "refresher", "refresher-secret-0123456789abcdef0123456789"

// TestOAuth2ClientAgainstBinary uses golang.org/x/oauth2, a strict real
// client, for every grant against the real authserver binary, and checks the
// tokens at the real resource server.
func TestOAuth2ClientAgainstBinary(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	tokenURL := s.auth.url("/oauth/token")

	t.Run("client_credentials", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: tokenURL, Scopes: []string{"current_time"}}
		hc := cc.Client(ctx)
		resp, err := hc.Get(s.rs.url("/current_time"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "the library attaches the token it got")
		resp, err = hc.Get(s.rs.url("/epoch_time"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 403, resp.StatusCode, "scope current_time only")
	})

	t.Run("password, both client auth styles", func(t *testing.T) {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
			conf := oauth2.Config{ClientID: demoClient, ClientSecret: demoSecret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: style}}
			tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
			require.NoError(t, err, "style %d", style)
			assert.Empty(t, tok.RefreshToken)
		}
	})

	t.Run("refresh through a TokenSource, with rotation and reuse detection", func(t *testing.T) {
		conf := oauth2.Config{ClientID: refresherClient, ClientSecret: refresherSecret, Endpoint: oauth2.Endpoint{TokenURL: tokenURL}}
		first, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-password")
		require.NoError(t, err)
		src := conf.TokenSource(ctx, first) // 1 s tokens: each Token() refreshes
		second, err := src.Token()
		require.NoError(t, err)
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)
		r := get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+second.AccessToken)
		assert.Equal(t, 200, r.status)

		r2 := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}, refresherClient, refresherSecret)
		assert.Equal(t, 400, r2.status)
		assert.Equal(t, "invalid_grant", r2.body["error"])
		r = get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+second.AccessToken)
		assert.Equal(t, 401, r.status, "reuse revoked the family and its access tokens")
	})

	t.Run("revocation is seen by the resource server at once", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: tokenURL}
		tok, err := cc.Token(ctx)
		require.NoError(t, err)
		require.Equal(t, 200, get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok.AccessToken).status)
		rv := postForm(t, s.auth.url("/oauth/revoke"), url.Values{"token": {tok.AccessToken}}, serviceClient, serviceSecret)
		require.Equal(t, 200, rv.status)
		assert.Equal(t, 401, get(t, s.rs.url("/current_time"), "Authorization", "Bearer "+tok.AccessToken).status)
	})
}

// TestRestartKeepsTokensValid: tokens issued before a restart, graceful or
// kill -9, still work after it, because the signing keys persist.
func TestRestartKeepsTokensValid(t *testing.T) {
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	env["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	auth := startOn(t, "authserver", ln, env)
	rs := startRS(t, auth)
	cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: auth.url("/oauth/token")}
	tok, err := cc.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, 200, get(t, rs.url("/current_time"), "Authorization", "Bearer "+tok.AccessToken).status)

	auth = auth.restart(t, true)
	assert.Equal(t, 200, get(t, rs.url("/current_time"), "Authorization", "Bearer "+tok.AccessToken).status, "after a graceful restart")

	auth.restart(t, false)
	assert.Equal(t, 200, get(t, rs.url("/current_time"), "Authorization", "Bearer "+tok.AccessToken).status, "after kill -9")
}

// TestKeyRotationCommand: `authserver keys rotate` run beside a live server
// makes a new signer; tokens of the old key keep working.
func TestKeyRotationCommand(t *testing.T) {
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	env["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	auth := startOn(t, "authserver", ln, env)
	rs := startRS(t, auth)
	cc := clientcredentials.Config{ClientID: serviceClient, ClientSecret: serviceSecret, TokenURL: auth.url("/oauth/token")}
	old, err := cc.Token(context.Background())
	require.NoError(t, err)
	oldKid := kid(t, old.AccessToken)

	assert.Contains(t, auth.cli(t, "keys", "rotate"), "new signing key")

	var fresh *oauth2.Token
	require.Eventually(t, func() bool {
		fresh, err = cc.Token(context.Background())
		return err == nil && kid(t, fresh.AccessToken) != oldKid
	}, time.Minute, 50*time.Millisecond, "the running server switches to the new key")

	assert.Equal(t, 200, get(t, rs.url("/current_time"), "Authorization", "Bearer "+old.AccessToken).status, "old key still verifies")
	assert.Equal(t, 200, get(t, rs.url("/current_time"), "Authorization", "Bearer "+fresh.AccessToken).status)
	jwks := get(t, auth.url("/oauth/jwks.json"))
	assert.Len(t, jwks.body["keys"], 4, "two generations, each an ES256 and an RS256 key")
}

func kid(t *testing.T, jwt string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	require.NoError(t, err)
	var h struct{ Kid string }
	require.NoError(t, json.Unmarshal(raw, &h))
	return h.Kid
}
