package upstreamtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/authservertest"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/introspection"
)

// User is an account at the authserver: its username, password and the
// full name UserInfo gives.
type User struct{ Name, Password, FullName string }

// The accounts every AuthServer has.
var (
	Alice   = User{Name: "alice", Password: "alice-password", FullName: "Alice Example"}
	Mallory = User{Name: "mallory", Password: "mallory-password", FullName: "Mallory Example"}
)

// Client is the webapp's registration at the authserver: a confidential
// client of the authorization code grant with refresh tokens, for the
// scopes current_time and epoch_time and OpenID Connect's openid and
// profile, whose users sign out back to the root of its redirect URI's
// origin.
type Client struct {
	ID, Secret  string
	RedirectURI string
	// AccessTTL is how long its access tokens live; 0 is the server's
	// default, 5 minutes. 10 seconds or less makes every access token due
	// for refresh as soon as it is issued (x/oauth2 refreshes 10 s early),
	// and still good at the resource server for those 10 seconds.
	AccessTTL time.Duration
}

// The clients every AuthServer knows besides the browser's: the webapp's
// client of the password grant (the curl flow), as in the development
// fixtures, and the resource server's, which introspects.
const (
	PasswordClient       = "1234"
	PasswordClientSecret = "qwerty"
	introspectionClient  = "resourceserver"
	introspectionSecret  = "resourceserver-secret"
)

// AuthServer is the real authorization server, embedded, behind a Proxy.
// Its URL, the proxy's, is its issuer identifier: what the webapp is
// configured with. The resource server reaches it directly.
type AuthServer struct {
	*Proxy
	direct     string
	introspect *introspection.Client
}

// NewAuthServer starts an authorization server that knows the scopes, the
// client c, the password grant's client, the resource server's client and
// the users Alice and Mallory.
// Password hashing is cheap, so that tests can sign in often.
func NewAuthServer(t *testing.T, c Client) *AuthServer {
	t.Helper()
	direct := httptest.NewUnstartedServer(nil)
	t.Cleanup(direct.Close)
	directURL := "http://" + direct.Listener.Addr().String()
	as := &AuthServer{Proxy: NewProxy(t, directURL), direct: directURL}

	srv, err := authserver.New(context.Background(),
		authserver.WithIssuer(as.URL),
		authserver.WithFixtures(fixtures(t, c)),
		authserver.WithPasswordHashing(authserver.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4))
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	r := chi.NewRouter()
	r.Mount("/oauth", srv.Handler())
	r.Handle("/.well-known/openid-configuration", srv.OpenIDConfigurationHandler())
	direct.Config.Handler = r
	direct.Start()
	as.introspect = introspection.NewClient(directURL+"/oauth/introspect", introspectionClient, introspectionSecret, httpclient.New(10*time.Second))
	return as
}

// fixtures writes the server's scopes, clients and users to a file.
func fixtures(t *testing.T, c Client) string {
	t.Helper()
	scopes := []string{"current_time", "epoch_time"}
	methods := []string{"client_secret_basic"}
	client := map[string]any{
		"id": c.ID, "name": "The webapp under test", "type": "confidential", "secret": c.Secret,
		"token_endpoint_auth_methods": methods, "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{c.RedirectURI}, "scopes": append([]string{"openid", "profile"}, scopes...), "default_scopes": scopes,
		"post_logout_redirect_uris": []string{PostLogoutURI(c)},
	}
	if c.AccessTTL > 0 {
		client["access_token_ttl"] = c.AccessTTL.String()
	}
	doc := map[string]any{
		"scopes": []map[string]string{
			{"name": "current_time", "description": "Read the current time"},
			{"name": "epoch_time", "description": "Read the time as seconds since the Unix epoch"},
			{"name": "openid", "description": "Know who you are"},
			{"name": "profile", "description": "See your name and username"},
		},
		"clients": []map[string]any{client, {
			"id": PasswordClient, "name": "The webapp's curl flow", "type": "confidential", "secret": PasswordClientSecret,
			"token_endpoint_auth_methods": methods, "grant_types": []string{"password"},
			"scopes": scopes, "default_scopes": scopes, "access_token_ttl": "5s",
		}, {
			"id": introspectionClient, "name": "Resource server", "type": "confidential", "secret": introspectionSecret,
			"token_endpoint_auth_methods": methods, "grant_types": []string{}, "introspection": true,
		}},
		"users": []User{Alice, Mallory},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	path := filepath.Join(t.TempDir(), "fixtures.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	return path
}

// MarshalJSON writes a user as the fixtures have one.
func (u User) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"username": u.Name, "password": u.Password, "name": u.FullName})
}

// PostLogoutURI is where c's users come back to after signing out at the
// authserver: the root of its redirect URI's origin.
func PostLogoutURI(c Client) string {
	u, err := url.Parse(c.RedirectURI)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}

// Authorize takes an authorization request, the URL the webapp sent the
// browser to, through the authserver's pages as the user would with the
// browser's client c (which must keep cookies and not follow redirects):
// signing in if asked, and answering the consent page with decision
// ("allow" or "deny") if it is shown. It returns the redirect to the
// webapp's callback.
func (as *AuthServer) Authorize(t *testing.T, c *http.Client, authorizeURL string, u User, decision string) string {
	t.Helper()
	return authservertest.With(t, as.URL, c).Authorize(authorizeURL, u.Name, u.Password, decision)
}

// EndSession follows an RP-Initiated Logout request, the URL the webapp
// sent the browser to, through the authserver's confirmation page with
// the browser's client c, answering decision ("logout" or "stay"), and
// returns where the authserver then sent the browser.
func (as *AuthServer) EndSession(t *testing.T, c *http.Client, endSessionURL, decision string) string {
	t.Helper()
	b := authservertest.With(t, as.URL, c)
	confirm := b.Get(endSessionURL)
	if confirm.Status != http.StatusOK {
		// Nobody signed in: straight on.
		return confirm.Location
	}
	p := b.Post("/oauth/end_session/confirm", authservertest.ConsentForm(t, confirm, decision))
	if p.Status != http.StatusSeeOther {
		t.Fatalf("upstreamtest: the logout confirmation answered %d: %s", p.Status, p.Body)
	}
	return p.Location
}

// SignedIn reports whether the browser's client c is signed in at the
// authserver: its account page shows, rather than sending it to sign in.
func (as *AuthServer) SignedIn(t *testing.T, c *http.Client) bool {
	t.Helper()
	return authservertest.With(t, as.URL, c).Get("/oauth/account").Status == http.StatusOK
}

// RevokeGrant revokes the user's grant to the client on the account page,
// as the user signed in with the browser's client c would: its refresh
// tokens and access tokens stop working at once.
func (as *AuthServer) RevokeGrant(t *testing.T, c *http.Client, clientID string) {
	t.Helper()
	b := authservertest.With(t, as.URL, c)
	account := b.Get("/oauth/account")
	if account.Status != http.StatusOK {
		t.Fatalf("upstreamtest: the account page answered %d", account.Status)
	}
	p := b.Post("/oauth/account/revoke", url.Values{"csrf_token": {authservertest.CSRF(t, account)}, "client_id": {clientID}})
	if p.Status != http.StatusSeeOther || p.Location != "/oauth/account?revoked=1" {
		t.Fatalf("upstreamtest: revoking the grant answered %d to %s", p.Status, p.Location)
	}
}

// Active reports whether the authserver takes token for an active one.
func (as *AuthServer) Active(t *testing.T, token string) bool {
	t.Helper()
	resp, err := as.introspect.Introspect(t.Context(), token)
	if err != nil {
		t.Fatalf("upstreamtest: introspection: %v", err)
	}
	return resp.Active
}

// Tokens are the tokens of a token response.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// Revocation is a revocation request (RFC 7009).
type Revocation struct{ Token, Hint string }

// AuthorizeRequests are the query parameters of every authorization
// request that came through, valid or not.
func (as *AuthServer) AuthorizeRequests() []url.Values {
	var out []url.Values
	for _, e := range as.Seen() {
		if e.Path == "/oauth/authorize" && e.Method == http.MethodGet {
			out = append(out, e.Query)
		}
	}
	return out
}

// TokenRequests are the forms of the token requests of a grant type.
func (as *AuthServer) TokenRequests(grantType string) []Exchange {
	var out []Exchange
	for _, e := range as.Seen() {
		if e.Path == "/oauth/token" && e.Form.Get("grant_type") == grantType {
			out = append(out, e)
		}
	}
	return out
}

// CodeExchanges is how many times a code was presented.
func (as *AuthServer) CodeExchanges() int { return len(as.TokenRequests("authorization_code")) }

// Presented are the refresh tokens presented, in order.
func (as *AuthServer) Presented() []string {
	var out []string
	for _, e := range as.TokenRequests("refresh_token") {
		out = append(out, e.Form.Get("refresh_token"))
	}
	return out
}

// RefusedRefreshes is how many refreshes the server refused: with a
// refresh token spent already (reuse, which revokes the whole grant),
// revoked or expired.
func (as *AuthServer) RefusedRefreshes() int {
	n := 0
	for _, e := range as.TokenRequests("refresh_token") {
		if e.Status != http.StatusOK {
			n++
		}
	}
	return n
}

// Issued are the tokens the server issued, in order.
func (as *AuthServer) Issued() []Tokens {
	var out []Tokens
	for _, e := range as.Seen() {
		var tok Tokens
		if e.Path == "/oauth/token" && e.Status == http.StatusOK && json.Unmarshal(e.Body, &tok) == nil {
			out = append(out, tok)
		}
	}
	return out
}

// Revocations are the revocation requests that came through.
func (as *AuthServer) Revocations() []Revocation {
	var out []Revocation
	for _, e := range as.Seen() {
		if e.Path == "/oauth/revoke" {
			out = append(out, Revocation{Token: e.Form.Get("token"), Hint: e.Form.Get("token_type_hint")})
		}
	}
	return out
}
