package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// TestDeveloperPagesInChromium: a user reaches the developer page from
// the account page, registers a client and reads its id and secret; the
// client then runs the code flow with PKCE in the same browser (x/oauth2
// on the client's side) and its token works at the resource server, until
// the user deletes the client on the page.
//
// UPDATE_SCREENSHOTS=1 writes the README's screenshot to docs/.
func TestDeveloperPagesInChromium(t *testing.T) {
	browser := chromium(t)
	s := startSystemWith(t, map[string]string{"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "1h"})
	newAccount(t, s.auth, "nora", "nora-password-1")

	// The client's own callback: a loopback address, as a developer's
	// machine has it.
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("callback received"))
	}))
	t.Cleanup(app.Close)
	callback := app.URL + "/cb"

	ctx := headless(t, browser, chromedp.WindowSize(900, 1000))
	shots := screenshotDir(t)
	text := func(sel string) string {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return got
	}
	location := func() string {
		u, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return u
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.auth.url("/oauth/account")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "nora"),
		chromedp.SendKeys(chromedp.ID("password"), "nora-password-1"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//a[contains(., "developer page")]`),
		chromedp.Click(`//a[contains(., "developer page")]`),
		chromedp.WaitVisible(chromedp.ID("client-name")),
	))
	assert.Contains(t, text("main"), "You have registered no app yet.")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("client-name"), "Nora's time app"),
		chromedp.SendKeys(chromedp.ID("redirect-uris"), callback),
		chromedp.Submit(chromedp.ID("client-name")),
		chromedp.WaitVisible(chromedp.ID("client-secret")),
	))
	id, secret := text("#client-id"), text("#client-secret")
	require.NotEmpty(t, id)
	require.NotEmpty(t, secret)
	assert.Contains(t, text("main"), "shown this once")
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(shots, "developer-1-registered.png"), shot, 0o644))

	// The new client runs the code flow: Nora consents in the browser.
	conf := oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: callback, Scopes: []string{"current_time"},
		Endpoint: oauth2.Endpoint{AuthURL: s.auth.url("/oauth/authorize"), TokenURL: s.auth.url("/oauth/token")},
	}
	verifier := oauth2.GenerateVerifier()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(conf.AuthCodeURL("st-dev", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(`//button[@value="allow"]`),
	))
	assert.Contains(t, text("main"), "Nora's time app", "the consent page names the client")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[@value="allow"]`),
		chromedp.WaitVisible(`//body[contains(., "callback received")]`),
	))
	back, err := url.Parse(location())
	require.NoError(t, err)
	require.Equal(t, "st-dev", back.Query().Get("state"))
	tok, err := conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err, "the secret the page showed authenticates the client")
	require.Equal(t, 200, resource(t, s.rs, tok.AccessToken))

	// Delete it on the page: its token dies at the resource server.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.auth.url("/oauth/developer")),
		chromedp.WaitVisible(`//tr[contains(., "Nora's time app")]`),
	))
	assert.NotContains(t, text("main"), secret, "the secret is not shown again")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//tr[contains(., "Nora's time app")]//button[contains(., "Delete")]`),
		chromedp.WaitVisible(`//p[contains(., "Deleted.")]`),
	))
	assert.True(t, strings.HasSuffix(location(), "/oauth/developer?deleted=1"), location())
	assert.NotContains(t, text("main"), "Nora's time app")
	assert.Equal(t, 401, resource(t, s.rs, tok.AccessToken), "the client's token died with it")
}
