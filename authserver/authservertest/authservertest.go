// Package authservertest drives the authserver's pages over HTTP the way a
// browser does (cookies kept, redirects not followed, so every hop can be
// checked), for the tests of the library, of the real binaries, and of
// clients that embed the server in their own tests (the webapp's).
package authservertest

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The demo's browser client (configs/fixtures/demo.json) and the PKCE
// example of RFC 7636 appendix B.
const (
	Client       = "webapp-browser"
	Secret       = "webapp-browser-secret" //nolint:gosec // G101: the demo fixtures' published secret
	Callback     = "http://localhost:5003/callback"
	PKCEVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// S256 is the PKCE S256 challenge of a verifier.
func S256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizePath is an authorization request of the demo browser client,
// with some parameters replaced ("" removes one).
func AuthorizePath(overrides map[string]string) string {
	v := url.Values{"response_type": {"code"}, "client_id": {Client}, "redirect_uri": {Callback},
		"state": {"st-123"}, "code_challenge": {S256(PKCEVerifier)}, "code_challenge_method": {"S256"}, "scope": {"current_time epoch_time"}}
	for k, val := range overrides {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return "/oauth/authorize?" + v.Encode()
}

// Browser is a cookie-keeping client of one server.
type Browser struct {
	t    *testing.T
	base string
	C    *http.Client
}

// New returns a browser for the server at base (e.g. http://127.0.0.1:5001).
func New(t *testing.T, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return With(t, base, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
}

// With returns a browser for the server at base that sends its requests
// with c: its cookie jar, so that a client's test can take one browser
// through the client's pages and the server's. c must not follow
// redirects.
func With(t *testing.T, base string, c *http.Client) *Browser {
	return &Browser{t: t, base: base, C: c}
}

// Page is one answer.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

// Do sends a request.
func (b *Browser) Do(req *http.Request) Page {
	b.t.Helper()
	resp, err := b.C.Do(req)
	require.NoError(b.t, err)
	defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
	raw, _ := io.ReadAll(resp.Body)
	return Page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw), Location: resp.Header.Get("Location")}
}

// URL is the absolute URL of a path of the server.
func (b *Browser) URL(path string) string { return b.base + path }

// Cookies are the cookies a page set.
func (p Page) Cookies() []*http.Cookie { return (&http.Response{Header: p.Header}).Cookies() }

// Get fetches a path of the server (or an absolute URL).
func (b *Browser) Get(path string) Page {
	b.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = b.base + path
	}
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
	return b.Do(req)
}

// Post submits a form to a path of the server.
func (b *Browser) Post(path string, form url.Values) Page {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF returns the CSRF token of a page's form.
func CSRF(t *testing.T, p Page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no CSRF field on the page: %s", p.Body)
	return m[1]
}

// Login signs in as alice through the login page, returning where it sent
// the browser.
func (b *Browser) Login(returnTo string) Page {
	b.t.Helper()
	return b.LoginAs(returnTo, "alice", "alice-password")
}

// LoginAs signs in as a user through the login page, returning where it
// sent the browser.
func (b *Browser) LoginAs(returnTo, username, password string) Page {
	b.t.Helper()
	form := b.Get("/oauth/login?return_to=" + url.QueryEscape(returnTo))
	require.Equal(b.t, 200, form.Status)
	return b.Post("/oauth/login", url.Values{"csrf_token": {CSRF(b.t, form)}, "return_to": {returnTo}, "username": {username}, "password": {password}})
}

// Authorize takes an authorization request, the absolute URL a client
// sent the browser to, through the pages as a user would: signing in as
// username if asked, and answering the consent page with decision ("allow"
// or "deny") if it is shown. It returns where the server then sent the
// browser: the client's redirect URI with the answer.
func (b *Browser) Authorize(authorizeURL, username, password, decision string) string {
	b.t.Helper()
	p := b.Get(authorizeURL)
	if p.Status == http.StatusFound && strings.HasPrefix(p.Location, "/oauth/login?") {
		u, err := url.Parse(p.Location)
		require.NoError(b.t, err)
		p = b.LoginAs(u.Query().Get("return_to"), username, password)
		require.Equal(b.t, http.StatusSeeOther, p.Status, "signed in as %s: %s", username, p.Body)
		p = b.Get(p.Location)
	}
	if p.Status == http.StatusOK {
		p = b.Post("/oauth/authorize", ConsentForm(b.t, p, decision))
	}
	require.Contains(b.t, []int{http.StatusFound, http.StatusSeeOther}, p.Status, "the server answered the authorization request: %s", p.Body)
	return p.Location
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// ConsentForm is the form the consent page submits for a decision.
func ConsentForm(t *testing.T, consent Page, decision string) url.Values {
	t.Helper()
	form := url.Values{"decision": {decision}, "csrf_token": {CSRF(t, consent)}}
	for _, m := range hiddenRE.FindAllStringSubmatch(consent.Body, -1) {
		if m[1] != "csrf_token" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return form
}
