package authserver_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/authservertest"
)

// The developer pages over HTTP, as a browser sends their forms.

func withDeveloperPages(perUser int) authserver.Option {
	r := authserver.DefaultRegistration()
	r.DeveloperPages, r.ClientsPerUser = true, perUser
	return authserver.WithRegistration(r)
}

var (
	clientIDRE     = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)
	clientSecretRE = regexp.MustCompile(`<code id="client-secret">([^<]+)</code>`)
)

// signUp makes an account on the sign-up page and leaves b signed in.
func signUp(t *testing.T, b *browser, name string) {
	t.Helper()
	form := b.Get("/oauth/signup")
	require.Equal(t, 200, form.Status)
	p := b.Post("/oauth/signup", url.Values{"csrf_token": {csrfOf(t, form)}, "username": {name}, "password": {name + "-password"}, "confirm": {name + "-password"}})
	require.Equal(t, 303, p.Status, p.Body)
}

// registerOwn fills the developer page's form.
func registerOwn(t *testing.T, b *browser, name, redirectURIs, typ string) page {
	t.Helper()
	dev := b.Get("/oauth/developer")
	require.Equal(t, 200, dev.Status, dev.Body)
	return b.Post("/oauth/developer/clients", url.Values{"csrf_token": {csrfOf(t, dev)}, "name": {name}, "redirect_uris": {redirectURIs}, "type": {typ}})
}

func TestDeveloperPages(t *testing.T) {
	for name, opts := range backends() {
		t.Run(name, func(t *testing.T) {
			ts := start(t, append(opts(t), withDeveloperPages(3))...)
			signedOut := newBrowser(t, ts)
			p := signedOut.Get("/oauth/developer")
			require.Equal(t, 302, p.Status, "signed out: to the login page")
			assert.Equal(t, "/oauth/login?return_to=%2Foauth%2Fdeveloper", p.Location)

			dan := newBrowser(t, ts)
			signUp(t, dan, "dan")
			account := dan.Get("/oauth/account")
			assert.Contains(t, account.Body, `href="/oauth/developer"`, "linked from the account page")

			made := registerOwn(t, dan, `Dan's <b>app</b>`, "https://dan.example/cb\r\nhttp://127.0.0.1:9000/cb", "confidential")
			require.Equal(t, 201, made.Status, made.Body)
			pageHeaders(t, made)
			assert.Contains(t, made.Body, "Dan&#39;s &lt;b&gt;app&lt;/b&gt;", "the name is escaped")
			id, secret := clientIDRE.FindStringSubmatch(made.Body), clientSecretRE.FindStringSubmatch(made.Body)
			require.NotNil(t, id)
			require.NotNil(t, secret, "the secret, shown once")
			list := dan.Get("/oauth/developer")
			assert.Contains(t, list.Body, id[1], "listed")
			assert.NotContains(t, list.Body, secret[1], "but its secret never again")

			// The secret shown works, and the client runs the code flow.
			alice := newBrowser(t, ts)
			require.Equal(t, 303, alice.Login("/oauth/account").Status)
			ask := alice.Get("/oauth/authorize?" + url.Values{
				"response_type": {"code"}, "client_id": {id[1]}, "redirect_uri": {"https://dan.example/cb"}, "state": {"s"},
				"code_challenge": {authservertest.S256(pkceVerifier)}, "code_challenge_method": {"S256"},
			}.Encode())
			require.Equal(t, 200, ask.Status, ask.Body)
			assert.Contains(t, ask.Body, `id="unvetted"`, "the consent page says nobody checked the name")
			assert.Contains(t, ask.Body, "<code>https://dan.example/cb</code>", "and where the answer goes")
			answer := alice.Post("/oauth/authorize", authservertest.ConsentForm(t, ask, "allow"))
			require.Equal(t, 303, answer.Status, answer.Body)
			code := mustURL(answer.Location).Query().Get("code")
			require.NotEmpty(t, code, answer.Location)
			tok := ts.post(t, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {"https://dan.example/cb"}, "code_verifier": {pkceVerifier}}, id[1], secret[1])
			require.Equal(t, 200, tok.status, tok.raw)
			access := tok.body["access_token"].(string)
			assert.True(t, ts.introspectActive(t, access))

			// Another user sees none of it and deletes nothing of it.
			eve := newBrowser(t, ts)
			signUp(t, eve, "eve")
			evePage := eve.Get("/oauth/developer")
			assert.NotContains(t, evePage.Body, id[1])
			del := eve.Post("/oauth/developer/clients/delete", url.Values{"csrf_token": {csrfOf(t, evePage)}, "client_id": {id[1]}})
			require.Equal(t, 303, del.Status)
			assert.Equal(t, "/oauth/developer", del.Location, "no \"deleted\" notice")
			assert.True(t, ts.introspectActive(t, access), "nothing ended")

			// Forms need their CSRF token.
			assert.Equal(t, 403, dan.Post("/oauth/developer/clients", url.Values{"name": {"x"}, "redirect_uris": {"https://x.example/"}, "type": {"public"}}).Status)
			assert.Equal(t, 403, dan.Post("/oauth/developer/clients/delete", url.Values{"client_id": {id[1]}}).Status)

			// Refusals come back on the page, with what was typed.
			for name, tc := range map[string]struct{ name, uris, typ, says string }{
				"http to another host": {"X", "http://x.example/cb", "public", "loopback"},
				"a private-use scheme": {"X", "com.example.app:/cb", "public", "private-use"},
				"no name":              {"", "https://x.example/cb", "public", "name"},
				"no type":              {"X", "https://x.example/cb", "", "type"},
				"eleven URIs":          {"X", strings.Repeat("https://x.example/cb\n", 11), "public", "at most 10"},
				"a huge field":         {"X", strings.Repeat("a", 30000), "public", "longer than"},
			} {
				p := registerOwn(t, dan, tc.name, tc.uris, tc.typ)
				assert.Equal(t, 400, p.Status, name)
				assert.Contains(t, p.Body, tc.says, name)
				pageHeaders(t, p)
			}

			public := registerOwn(t, dan, "CLI", "http://127.0.0.1/cb", "public")
			require.Equal(t, 201, public.Status, public.Body)
			assert.Nil(t, clientSecretRE.FindStringSubmatch(public.Body), "a public client has no secret")
			require.Equal(t, 201, registerOwn(t, dan, "Third", "https://third.example/cb", "public").Status)
			full := registerOwn(t, dan, "Fourth", "https://fourth.example/cb", "public")
			assert.Equal(t, 400, full.Status, "three per user here")
			assert.Contains(t, full.Body, "delete one first")

			// Dan deletes his client: its token dies.
			list = dan.Get("/oauth/developer")
			del = dan.Post("/oauth/developer/clients/delete", url.Values{"csrf_token": {csrfOf(t, list)}, "client_id": {id[1]}})
			require.Equal(t, 303, del.Status)
			assert.Equal(t, "/oauth/developer?deleted=1", del.Location)
			assert.False(t, ts.introspectActive(t, access), "its token died with it")
			assert.NotContains(t, dan.Get("/oauth/developer").Body, id[1])

			// Closing the account deletes the rest.
			publicID := clientIDRE.FindStringSubmatch(public.Body)[1]
			account = dan.Get("/oauth/account")
			closed := dan.Post("/oauth/account/delete", url.Values{"csrf_token": {csrfOf(t, account)}, "password": {"dan-password"}})
			require.Equal(t, 303, closed.Status, closed.Body)
			_, err := ts.srv.Clients().Get(t.Context(), publicID)
			assert.ErrorIs(t, err, authserver.ErrNoSuchClient, "the account's clients went with it")
		})
	}
}

// Without the option there are no developer pages, and no link to them.
func TestDeveloperPagesOff(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	require.Equal(t, 303, b.Login("/oauth/account").Status)
	assert.NotContains(t, b.Get("/oauth/account").Body, "/oauth/developer")
	assert.Equal(t, 404, b.Get("/oauth/developer").Status)
}

// Of 50 registrations from one user's page at once, no more are kept than
// race past the per-user bound, and each is a client of its own.
func TestDeveloperPagesRace(t *testing.T) {
	ts := start(t, withDeveloperPages(100))
	b := newBrowser(t, ts)
	signUp(t, b, "racer")
	dev := b.Get("/oauth/developer")
	csrf := csrfOf(t, dev)
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := b.Post("/oauth/developer/clients", url.Values{"csrf_token": {csrf}, "name": {"racer"}, "redirect_uris": {"https://r.example/cb"}, "type": {"public"}})
			if assert.Equal(t, http.StatusCreated, p.Status) {
				ids[i] = clientIDRE.FindStringSubmatch(p.Body)[1]
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	assert.Len(t, seen, 50, "50 distinct clients")
	assert.Equal(t, 50, strings.Count(b.Get("/oauth/developer").Body, "/developer/clients/delete"), "all listed")
}
