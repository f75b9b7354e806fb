// Package fake has test doubles of the webapp's upstreams that speak the
// real protocols over HTTP: an authorization server just strict enough to
// catch a client that gets the authorization code grant, PKCE, refresh token
// rotation or revocation wrong, and a resource server that accepts only the
// access tokens it issued. Only tests import it.
package fake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// AuthConfig is the one client the fake authorization server knows.
type AuthConfig struct {
	ClientID     string
	ClientSecret string
	RedirectURI  string
	// Scopes the client may ask for.
	Scopes []string
}

// Failure makes the fake misbehave.
type Failure int

const (
	// Healthy answers normally.
	Healthy Failure = iota
	// Unavailable answers every request 503.
	Unavailable
	// Hang answers nothing until the caller gives up, or for a minute:
	// far longer than the short timeout of a test about hanging, however
	// late that timeout fires on a loaded machine.
	Hang
)

// Revocation is one call to the revocation endpoint.
type Revocation struct {
	Token, Hint string
}

// AuthServer is a fake authorization server: /oauth/authorize,
// /oauth/token (authorization_code with PKCE, refresh_token with rotation
// and reuse detection) and /oauth/revoke. Its issuer identifier is its URL.
//
// Its access tokens are shaped like RFC 9068 JWTs, with the user in sub
// and the token's name (at-1, at-2, ...) in jti, and a signature no one
// checks; TokenID reads the name back. Refresh tokens are rt-1, rt-2, ...
// and codes code-1, code-2, ...
type AuthServer struct {
	*httptest.Server
	cfg AuthConfig

	mu           sync.Mutex
	issuer       string
	accessTTL    int
	refreshDelay time.Duration
	failure      Failure
	deny         [2]string // error, error_description for the next authorizations
	subject      string    // the user the next authorizations sign in
	codeN, n     int
	codes        map[string]*authCode
	refresh      map[string]*family // by refresh token, spent ones included
	access       map[string]*family
	spent        map[string]bool // refresh tokens already used

	authorizeReqs []url.Values
	exchanges     int
	presented     []string // refresh tokens presented, in order
	reuses        int
	revocations   []Revocation
}

type authCode struct {
	challenge, redirectURI, scope, subject string
	used                                   bool
	fam                                    *family
}

type family struct {
	subject string
	revoked bool
}

// NewAuthServer starts a fake authorization server. Close it when done.
func NewAuthServer(cfg AuthConfig) *AuthServer {
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"current_time", "epoch_time"}
	}
	as := &AuthServer{
		cfg: cfg, accessTTL: 3600, subject: DefaultSubject,
		codes: map[string]*authCode{}, refresh: map[string]*family{}, access: map[string]*family{}, spent: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", as.authorize)
	mux.HandleFunc("POST /oauth/token", as.token)
	mux.HandleFunc("POST /oauth/revoke", as.revoke)
	as.Server = httptest.NewServer(as.misbehave(mux))
	as.issuer = as.URL
	return as
}

// DefaultSubject is the user the fake signs in until SetSubject says
// otherwise.
const DefaultSubject = "user-1"

// SetSubject makes the following authorizations sign in user sub, as if
// that user had logged in at the authorization server.
func (as *AuthServer) SetSubject(sub string) { as.with(func() { as.subject = sub }) }

// Issuer is the issuer identifier the fake puts in iss.
func (as *AuthServer) Issuer() string {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.issuer
}

// SetAccessTTL sets expires_in of the access tokens issued from now on.
// x/oauth2 counts a token expired 10 s before its end, so 10 or less makes
// every token due for refresh at once.
func (as *AuthServer) SetAccessTTL(seconds int) { as.with(func() { as.accessTTL = seconds }) }

// SetRefreshDelay makes each refresh answer wait, after the refresh token
// has been spent, so concurrent refreshes overlap.
func (as *AuthServer) SetRefreshDelay(d time.Duration) { as.with(func() { as.refreshDelay = d }) }

// SetFailure makes every endpoint misbehave, or stop misbehaving.
func (as *AuthServer) SetFailure(f Failure) { as.with(func() { as.failure = f }) }

// Deny makes authorizations answer with this error (RFC 6749 §4.1.2.1), as
// when the user clicks "Deny"; an empty code goes back to granting.
func (as *AuthServer) Deny(code, description string) {
	as.with(func() { as.deny = [2]string{code, description} })
}

// RevokeAll revokes every grant, as a user does on the account page.
func (as *AuthServer) RevokeAll() {
	as.with(func() {
		for _, f := range as.access {
			f.revoked = true
		}
		for _, f := range as.refresh {
			f.revoked = true
		}
	})
}

// Active reports whether an access token is one the fake issued and has
// not revoked.
func (as *AuthServer) Active(accessToken string) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	f, ok := as.access[accessToken]
	return ok && !f.revoked
}

// AuthorizeRequests are the query parameters of every authorization
// request, valid or not.
func (as *AuthServer) AuthorizeRequests() []url.Values {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]url.Values(nil), as.authorizeReqs...)
}

// Exchanges is how many authorization_code requests authenticated.
func (as *AuthServer) Exchanges() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.exchanges
}

// Presented are the refresh tokens presented, in order.
func (as *AuthServer) Presented() []string {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]string(nil), as.presented...)
}

// Reuses is how many times a spent refresh token was presented (each one
// revoked its whole grant).
func (as *AuthServer) Reuses() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.reuses
}

// Revocations are the revocation requests received.
func (as *AuthServer) Revocations() []Revocation {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]Revocation(nil), as.revocations...)
}

func (as *AuthServer) with(fn func()) {
	as.mu.Lock()
	defer as.mu.Unlock()
	fn()
}

func (as *AuthServer) misbehave(next http.Handler) http.Handler {
	return failing(func() Failure {
		as.mu.Lock()
		defer as.mu.Unlock()
		return as.failure
	}, next)
}

func failing(get func() Failure, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch get() {
		case Unavailable:
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		case Hang:
			// Read the body first: only then does the server watch the
			// connection, and see the caller give up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// authorize checks the request as a real server must before it may
// redirect at all (client and exact redirect URI), then PKCE, then answers
// at once as if the user had signed in and consented.
func (as *AuthServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	as.mu.Lock()
	defer as.mu.Unlock()
	as.authorizeReqs = append(as.authorizeReqs, q)
	switch {
	case q.Get("client_id") != as.cfg.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case q.Get("redirect_uri") != as.cfg.RedirectURI:
		http.Error(w, "redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	answer := url.Values{"iss": {as.issuer}}
	if s := q.Get("state"); s != "" {
		answer.Set("state", s)
	}
	challenge := q.Get("code_challenge")
	switch {
	case q.Get("response_type") != "code":
		answer.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || len(challenge) != 43:
		answer.Set("error", "invalid_request")
		answer.Set("error_description", "PKCE with S256 is required")
	case !as.scopesAllowed(q.Get("scope")):
		answer.Set("error", "invalid_scope")
	case as.deny[0] != "":
		answer.Set("error", as.deny[0])
		if as.deny[1] != "" {
			answer.Set("error_description", as.deny[1])
		}
	default:
		as.codeN++
		code := fmt.Sprintf("code-%d", as.codeN)
		as.codes[code] = &authCode{challenge: challenge, redirectURI: q.Get("redirect_uri"), scope: q.Get("scope"), subject: as.subject}
		answer.Set("code", code)
	}
	http.Redirect(w, r, as.cfg.RedirectURI+"?"+answer.Encode(), http.StatusFound)
}

func (as *AuthServer) scopesAllowed(scope string) bool {
	for _, s := range strings.Fields(scope) {
		ok := false
		for _, allowed := range as.cfg.Scopes {
			ok = ok || s == allowed
		}
		if !ok {
			return false
		}
	}
	return true
}

// clientAuthenticated checks client_secret_basic, with id and secret
// form-urlencoded inside the header as RFC 6749 §2.3.1 says, and refuses a
// second method in the body.
func (as *AuthServer) clientAuthenticated(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	if !ok || err1 != nil || err2 != nil || id != as.cfg.ClientID || secret != as.cfg.ClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return false
	}
	if r.PostForm.Has("client_secret") {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return false
	}
	return true
}

func (as *AuthServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if !as.clientAuthenticated(w, r) {
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		as.exchange(w, r)
	case "refresh_token":
		as.refreshGrant(w, r)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func (as *AuthServer) exchange(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.exchanges++
	c, ok := as.codes[r.PostForm.Get("code")]
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case c.used:
		// A code used twice was stolen: revoke what it gave.
		c.fam.revoked = true
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case r.PostForm.Get("redirect_uri") != c.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	c.used = true
	c.fam = &family{subject: c.subject}
	as.issue(w, c.fam, c.scope)
}

func (as *AuthServer) refreshGrant(w http.ResponseWriter, r *http.Request) {
	rt := r.PostForm.Get("refresh_token")
	as.mu.Lock()
	as.presented = append(as.presented, rt)
	f, ok := as.refresh[rt]
	switch {
	case !ok || f.revoked:
		as.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case as.spent[rt]:
		// Reuse of a rotated token: someone else has a copy. End the grant.
		as.reuses++
		f.revoked = true
		as.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	as.spent[rt] = true
	delay := as.refreshDelay
	as.mu.Unlock()

	time.Sleep(delay)
	as.mu.Lock()
	defer as.mu.Unlock()
	if f.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	as.issue(w, f, "")
}

// issue answers a token response with a new access and refresh token in
// family f. Call with mu held.
func (as *AuthServer) issue(w http.ResponseWriter, f *family, scope string) {
	as.n++
	at, rt := AccessToken(f.subject, fmt.Sprintf("at-%d", as.n)), fmt.Sprintf("rt-%d", as.n)
	as.access[at] = f
	as.refresh[rt] = f
	body := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": as.accessTTL, "refresh_token": rt}
	if scope != "" {
		body["scope"] = scope
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

func (as *AuthServer) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if !as.clientAuthenticated(w, r) {
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	tok := r.PostForm.Get("token")
	as.revocations = append(as.revocations, Revocation{Token: tok, Hint: r.PostForm.Get("token_type_hint")})
	if f, ok := as.refresh[tok]; ok {
		f.revoked = true
	}
	if f, ok := as.access[tok]; ok {
		f.revoked = true
	}
	w.WriteHeader(http.StatusOK) // RFC 7009 §2.2: also for unknown tokens
}

// AccessToken is the access token the fake issues to sub under the name
// id: a JWT in shape, whose signature is not one.
func AccessToken(sub, id string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]string{"sub": sub, "jti": id})
	return enc([]byte(`{"alg":"ES256","kid":"fake","typ":"at+jwt"}`)) + "." + enc(claims) + ".ZmFrZQ"
}

// TokenID is the name (jti) of an access token AccessToken made, or tok
// itself if it is not one.
func TokenID(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tok
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		ID string `json:"jti"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.ID == "" {
		return tok
	}
	return claims.ID
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}
