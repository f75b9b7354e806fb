package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds the browser, or skips (fails under CI: .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is needed for the browser test")
	}
	t.Skip("Chromium not installed: the headless browser test cannot run here")
	return ""
}

// headless starts a headless Chromium of its own (browser is its path)
// and returns a context that drives it, ended with the test and bounded
// by five minutes, only against a hang: a loaded machine takes its time.
func headless(t *testing.T, browser string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoInheritEnv, chromedp.Env(childEnv(nil)...),
	}, opts...)...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// TestBrowserSignIn runs the user-facing flow in a real headless Chromium
// against the real binaries: sign in on the webapp with OpenID Connect,
// log in and consent on the authserver, be greeted by name and see the
// time; sign out of the webapp, asked by the authserver whether to sign
// out there too, stay, and sign in again without being asked; sign out
// of both, and sign in again (the login's redirects end at the webapp);
// revoke the grant on the account page and see the webapp lose access;
// sign out everywhere.
//
// UPDATE_SCREENSHOTS=1 writes the README's screenshots to docs/.
func TestBrowserSignIn(t *testing.T) {
	browser := chromium(t)

	// The browser sees everything on "localhost"; the webapp's redirect URI
	// must be registered before the authserver starts, so its port is
	// chosen first and a fixture registers a client for it.
	webLn, authLn := listen(t), listen(t)
	webURL := "http://localhost:" + port(webLn.Addr().String())
	authURL := "http://localhost:" + port(authLn.Addr().String())
	fixture := filepath.Join(t.TempDir(), "browser-client.yaml")
	require.NoError(t, os.WriteFile(fixture, []byte(fmt.Sprintf(`clients:
  - id: webapp-browser-e2e
    name: Demo webapp
    type: confidential
    secret: e2e-browser-secret
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["%s/callback"]
    post_logout_redirect_uris: ["%s/"]
    scopes: [openid, profile, email, current_time, epoch_time]
    default_scopes: [current_time, epoch_time]
`, webURL, webURL)), 0o600))

	authEnvs := authEnv(t, authLn.Addr().String(), t.TempDir())
	authEnvs["AUTHSERVER_ISSUER"] = authURL
	authEnvs["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	authEnvs["AUTHSERVER_FIXTURES"] = "fixtures/demo.json," + fixture
	auth := startOn(t, "authserver", authLn, authEnvs)
	rs := startRS(t, auth)
	web := webEnv(auth, rs)
	for k, v := range map[string]string{
		"WEBAPP_BROWSER_CLIENT_ID":     "webapp-browser-e2e",
		"WEBAPP_BROWSER_CLIENT_SECRET": "e2e-browser-secret",
		"WEBAPP_BROWSER_AUTHORIZE_URL": authURL + "/oauth/authorize",
		"WEBAPP_BROWSER_REVOKE_URL":    auth.url("/oauth/revoke"),
		"WEBAPP_BROWSER_ISSUER":        authURL,
		"WEBAPP_BROWSER_REDIRECT_URL":  webURL + "/callback",
		// OpenID Connect: keys and UserInfo over the back channel, sign-out
		// through the browser.
		"WEBAPP_BROWSER_JWKS_URL":                 auth.url("/oauth/jwks.json"),
		"WEBAPP_BROWSER_USERINFO_URL":             auth.url("/oauth/userinfo"),
		"WEBAPP_BROWSER_END_SESSION_URL":          authURL + "/oauth/end_session",
		"WEBAPP_BROWSER_POST_LOGOUT_REDIRECT_URL": webURL + "/",
	} {
		web[k] = v
	}
	startOn(t, "webapp", webLn, web)

	ctx := headless(t, browser, chromedp.WindowSize(900, 700))

	shots := screenshotDir(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(shots, name), png, 0o644)
		}
	}
	text := func(sel string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return s
	}
	location := func() string {
		u, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return u
	}
	signIn := `//a[contains(., "Sign in with authserver")] | //button[contains(., "Sign in with authserver")]`

	// 1. The webapp, signed out.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(webURL+"/"), chromedp.WaitVisible(chromedp.CSS("body")), shot("browser-1-webapp.png")))
	assert.Contains(t, text("body"), "Sign in with authserver")

	// 2. Sign in: the authserver's login page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(signIn),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password"),
		shot("browser-2-login.png"),
	))
	assert.True(t, strings.HasPrefix(location(), authURL+"/oauth/login"), location())

	// 3. Consent.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(`//button[@value="allow"]`),
		shot("browser-3-consent.png"),
	))
	consent := text("main")
	assert.Contains(t, consent, "Demo webapp")
	assert.Contains(t, consent, "Read the current time")
	assert.Contains(t, consent, "See your name and username", "the identity scopes in words")
	assert.Contains(t, consent, "Alice Example (alice)", "with what they share")

	// 4. Back on the webapp, showing the time from the resource server.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[@value="allow"]`),
		chromedp.WaitVisible(`//button[contains(., "Sign out")]`),
		shot("browser-4-signed-in.png"),
	))
	assert.True(t, strings.HasPrefix(location(), webURL+"/"), location())
	home := text("body")
	assert.Contains(t, home, "Hello, Alice Example.", "greeted by the name UserInfo gave, after the ID token verified")
	assert.Contains(t, home, time.Now().UTC().Format("2006-01-02"), "the current time is shown")
	assert.Contains(t, home, fmt.Sprint(time.Now().Unix())[:6], "and the epoch time")

	// 5. Sign out of the webapp: the authserver asks whether to sign out
	// there too (RP-Initiated Logout). Staying, the next sign-in goes
	// straight through: the authserver session and the remembered
	// consent take the browser back at once.
	signOut := `//button[normalize-space(.)="Sign out"]`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(signOut),
		chromedp.WaitVisible(`//button[@value="stay"]`),
		shot("browser-6-sign-out.png"),
	))
	assert.True(t, strings.HasPrefix(location(), authURL+"/oauth/end_session"), location())
	asked := text("main")
	assert.Contains(t, asked, "Demo webapp signed you out")
	assert.Contains(t, asked, "alice")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[@value="stay"]`),
		chromedp.WaitVisible(signIn),
	))
	assert.Equal(t, webURL+"/", location(), "back on the webapp's home page, signed out of it")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(signIn),
		chromedp.WaitVisible(signOut),
	))
	assert.True(t, strings.HasPrefix(location(), webURL+"/"), "no login and no consent page the second time: %s", location())

	// 6. Sign out of both, then sign in again on the webapp: the login
	// form's POST ends, through the authorization endpoint, in a redirect
	// to the webapp, which the login page's CSP (form-action) must let
	// through.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(signOut),
		chromedp.WaitVisible(`//button[@value="logout"]`),
		chromedp.Click(`//button[@value="logout"]`),
		chromedp.WaitVisible(signIn),
	))
	assert.Equal(t, webURL+"/", location())
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(authURL+"/oauth/account"),
		chromedp.WaitVisible(chromedp.ID("username")),
	))
	assert.True(t, strings.HasPrefix(location(), authURL+"/oauth/login"), "signed out of the authserver too: %s", location())
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(webURL+"/"),
		chromedp.WaitVisible(signIn),
		chromedp.Click(signIn),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "alice-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(signOut),
	))
	assert.True(t, strings.HasPrefix(location(), webURL+"/"), "the login went straight back to the webapp: %s", location())
	assert.Contains(t, text("body"), time.Now().UTC().Format("2006-01-02"))

	// 7. The account page names the apps that see the email address
	// (none: the webapp asks for openid and profile only), and revokes the
	// grant.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(authURL+"/oauth/account"),
		chromedp.WaitVisible(`//button[contains(., "Revoke")]`),
		shot("browser-5-account.png"),
	))
	assert.Contains(t, text("main"), "No app can see your email address.")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[contains(., "Revoke")]`),
		chromedp.WaitVisible(`//p[contains(., "No app has access")]`),
	))
	assert.Contains(t, text("main"), "this browser", "the account page lists this browser's session")

	// 8. The webapp's next resource call fails: its access is gone.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(webURL+"/"), chromedp.WaitVisible(chromedp.CSS("body"))))
	after := text("body")
	assert.Contains(t, after, "revoked", "the webapp lost access: %s", after)
	assert.Contains(t, after, "Sign in with authserver")

	// 9. Sign out everywhere: the authserver session ends.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(authURL+"/oauth/account"),
		chromedp.WaitVisible(`//button[contains(., "Sign out everywhere")]`),
		chromedp.Click(`//button[contains(., "Sign out everywhere")]`),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(authURL+"/oauth/account"),
		chromedp.WaitVisible(chromedp.ID("username")),
	))
	assert.True(t, strings.HasPrefix(location(), authURL+"/oauth/login"), "signed out: %s", location())
}

func port(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

// screenshotDir is docs/ when UPDATE_SCREENSHOTS=1, else a temporary dir:
// the test always takes them, so a broken page shows up either way.
func screenshotDir(t *testing.T) string {
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		dir := filepath.Join(repoRoot, "docs")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}
