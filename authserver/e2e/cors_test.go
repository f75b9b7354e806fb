package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/authservertest"
)

// fetchResult is what the page's fetch() saw: an answer it may read, or
// the browser's refusal (CORS) as the error fetch rejects with.
type fetchResult struct {
	Status  int            `json:"status"`
	Body    map[string]any `json:"body"`
	Blocked string         `json:"blocked"`
}

// corsScript runs fetches from the page and returns what each saw, by
// name, as JSON.
const corsScript = `(async () => {
  const auth = %q, code = %q, verifier = %q, redirect = %q;
  const form = (o) => ({method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: new URLSearchParams(o).toString()});
  const attempt = async (u, init) => {
    try {
      const r = await fetch(u, init);
      let body = null;
      try { body = await r.json(); } catch (e) {}
      return {status: r.status, body};
    } catch (e) {
      return {blocked: String(e)};
    }
  };
  const preflighted = form({grant_type: "client_credentials"});
  preflighted.headers.Authorization = "Basic " + btoa("spa-e2e:no-secret");
  return JSON.stringify({
    jwks: await attempt(auth + "/oauth/jwks.json"),
    metadata: await attempt(auth + "/.well-known/oauth-authorization-server"),
    exchange: await attempt(auth + "/oauth/token", form({grant_type: "authorization_code", client_id: "spa-e2e", code, code_verifier: verifier, redirect_uri: redirect})),
    replay: await attempt(auth + "/oauth/token", form({grant_type: "authorization_code", client_id: "spa-e2e", code, code_verifier: verifier, redirect_uri: redirect})),
    preflighted: await attempt(auth + "/oauth/token", preflighted),
    introspect: await attempt(auth + "/oauth/introspect", form({token: "x"})),
  });
})()`

// TestCORSFromChromium: a browser app on another origin (another port of
// 127.0.0.1) reads the JWKS and the metadata, exchanges an authorization
// code at the token endpoint and reads the error of a replay, as its
// public client registered it; a page on an origin no client registered
// reads the public documents only, and neither may read introspection.
func TestCORSFromChromium(t *testing.T) {
	browser := chromium(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, "<!doctype html><title>browser app</title><p>browser app</p>")
	})
	app, stranger := httptest.NewServer(page), httptest.NewServer(page)
	defer app.Close()
	defer stranger.Close()
	redirect := app.URL + "/callback"

	fixture := filepath.Join(t.TempDir(), "spa.yaml")
	require.NoError(t, os.WriteFile(fixture, []byte(fmt.Sprintf(`clients:
  - id: spa-e2e
    name: Browser app
    type: public
    grant_types: [authorization_code]
    redirect_uris: ["%s"]
    scopes: [current_time]
    default_scopes: [current_time]
`, redirect)), 0o600))
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	env["AUTHSERVER_FIXTURES"] = "fixtures/demo.json," + fixture
	auth := startOn(t, "authserver", ln, env)
	authURL := "http://" + auth.addr

	// A code for the browser app, as alice signs in and consents.
	code := func() string {
		b := authservertest.New(t, authURL)
		authorize := authservertest.AuthorizePath(map[string]string{"client_id": "spa-e2e", "redirect_uri": redirect, "scope": "current_time"})
		b.Login(authorize)
		p := b.Get(authorize)
		if p.Status == http.StatusOK {
			p = b.Post("/oauth/authorize", authservertest.ConsentForm(t, p, "allow"))
		}
		u, err := url.Parse(p.Location)
		require.NoError(t, err)
		require.NotEmpty(t, u.Query().Get("code"), "%d %s", p.Status, p.Location)
		return u.Query().Get("code")
	}

	ctx := headless(t, browser)

	fetchFrom := func(origin, code string) map[string]fetchResult {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(origin+"/"), chromedp.WaitVisible(chromedp.CSS("p"))))
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			fmt.Sprintf(corsScript, authURL, code, authservertest.PKCEVerifier, redirect), chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		out := map[string]fetchResult{}
		require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
		return out
	}

	got := fetchFrom(app.URL, code())
	assert.Equal(t, 200, got["jwks"].Status, "%+v", got["jwks"])
	assert.NotEmpty(t, got["jwks"].Body["keys"])
	assert.Equal(t, authURL, got["metadata"].Body["issuer"])
	require.Equal(t, 200, got["exchange"].Status, "the browser app exchanges its code: %+v", got["exchange"])
	assert.NotEmpty(t, got["exchange"].Body["access_token"], "and reads its token")
	assert.Equal(t, 400, got["replay"].Status, "%+v", got["replay"])
	assert.Equal(t, "invalid_grant", got["replay"].Body["error"], "the JSON error is readable too")
	assert.Equal(t, 401, got["preflighted"].Status, "a request with an Authorization header passes its preflight: %+v", got["preflighted"])
	assert.Equal(t, "invalid_client", got["preflighted"].Body["error"])
	assert.NotEmpty(t, got["introspect"].Blocked, "introspection is not for browsers: %+v", got["introspect"])

	got = fetchFrom(stranger.URL, code())
	assert.Equal(t, 200, got["jwks"].Status, "public documents are for everyone")
	assert.Equal(t, 200, got["metadata"].Status)
	for _, name := range []string{"exchange", "replay", "preflighted", "introspect"} {
		assert.NotEmpty(t, got[name].Blocked, "%s from an origin no client registered: %+v", name, got[name])
		assert.Zero(t, got[name].Status)
	}
}
