package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/webpage"
	"github.com/oauth2ref/pkg/zaplog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Accounts signs people in and up and keeps their sessions.
type Accounts interface {
	// Login checks a username and password typed into the login page.
	Login(ctx context.Context, at app.LoginAttempt) (app.LoginResult, error)
	// StartSession opens a session for the user and returns its cookie
	// token and the session.
	StartSession(ctx context.Context, u domain.User, from app.SessionStart) (string, domain.Session, error)
	// Session returns the active session behind a cookie token.
	Session(ctx context.Context, token string) (domain.Session, error)
	// EndSession ends the session behind a cookie token.
	EndSession(ctx context.Context, token string) error
	// UserSessions returns the user's active sessions, oldest first.
	UserSessions(ctx context.Context, userID string) ([]domain.Session, error)
	// EndAllSessions ends every session of the user.
	EndAllSessions(ctx context.Context, userID string) error
	// EndSessionByID ends one of the caller's user's sessions.
	EndSessionByID(ctx context.Context, caller domain.Session, id string) error
	// DeleteAccount closes an account, the password proving it is theirs.
	DeleteAccount(ctx context.Context, userID, password, source string) error
	// Signup creates an account.
	Signup(ctx context.Context, username, password string, p app.Profile) (domain.User, error)
	// User returns the user with the given id.
	User(ctx context.Context, id string) (domain.User, error)
}

// Consents lists and revokes users' consents to clients.
type Consents interface {
	// List returns the user's consents, by client id.
	List(ctx context.Context, userID string) ([]app.ClientConsent, error)
	// Revoke withdraws the user's consent to the client, and every token issued
	// under it.
	Revoke(ctx context.Context, userID, clientID string) error
}

// Authorizer decides authorization requests.
type Authorizer interface {
	// Validate checks an authorization request; an error with no Redirect in
	// the Authorization must be shown to the user, never redirected.
	Validate(ctx context.Context, req app.AuthorizeRequest) (app.Authorization, error)
	// Decide answers a call of the authorization endpoint: the request, the
	// browser's session token and the user's answer on the consent page.
	Decide(ctx context.Context, req app.AuthorizeRequest, sessionToken string, answer app.Answer) app.Decision
}

// PageConfig shapes the browser pages.
type PageConfig struct {
	// SecureCookies marks cookies Secure; on when the issuer is https.
	SecureCookies bool
	// MinPassword is shown on the signup page.
	MinPassword int
	// Developer links the account page to the developer pages, and
	// ClientsPerUser is shown there.
	Developer      bool
	ClientsPerUser int
}

// pages renders the server-side HTML pages.
type pages struct {
	base      string // the path Handler is mounted at, e.g. "/oauth"
	cfg       PageConfig
	log       *zap.Logger
	authz     Authorizer
	templates map[string]*template.Template
	cookies   webpage.Cookies
	// cookiePath is the path of every cookie (see newPages).
	cookiePath string
}

// The cookies of the pages, named as under plain http; under https they
// carry the __Host- prefix (webpage.Cookies).
const (
	sessionCookie = "authserver_session"
	csrfCookie    = "authserver_csrf"
)

// newPages parses the templates and sets the cookies up. Under https (when
// cookies are Secure) they carry the __Host- prefix, which requires Path=/,
// so they go with every request to the host, not only to the pages under
// base. Plain http (local development) keeps plain names, scoped to base.
func newPages(base string, cfg PageConfig, authz Authorizer, log *zap.Logger) (*pages, error) {
	p := &pages{base: base, cfg: cfg, authz: authz, log: log, templates: map[string]*template.Template{},
		cookies: webpage.Cookies{Secure: cfg.SecureCookies}, cookiePath: base + "/"}
	if cfg.SecureCookies {
		p.cookiePath = "/"
	}
	for _, name := range []string{"login", "signup", "consent", "account", "logout", "endsession", "error", "developer"} {
		t, err := template.New("layout").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.templates[name] = t
	}
	return p, nil
}

// pageData is what every template gets; each page adds its own fields.
type pageData struct {
	Base   string
	CSRF   string
	Error  string
	Notice string
}

// cspSource is the CSP source expression of a redirect URI's origin
// ("https://app.example:8443"; a custom scheme's "com.example.app:"), or ""
// if it has none that can be written safely.
func cspSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Host != "" {
		src += "//" + u.Host
	}
	for _, c := range src {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+-.:/[]", c)) {
			return ""
		}
	}
	return src
}

// returnTargets are the form targets (see render) of a page whose
// form leads on to returnTo: the client's redirect URI when returnTo is an
// authorization request that names a good one, since it may end there.
func (p *pages) returnTargets(r *http.Request, returnTo string) []string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != p.base+"/authorize" || p.authz == nil {
		return nil
	}
	auth, _ := p.authz.Validate(r.Context(), readAuthorize(u.Query()))
	if src := cspSource(auth.Redirect); src != "" {
		return []string{src}
	}
	return nil
}

// render answers a page with every page's headers (webpage.SetHeaders).
// A consent form (or a login form on the way to an authorization) ends in a
// redirect to the client's redirect URI, another origin: formTargets are
// those origins, which the CSP's form-action must allow.
func (p *pages) render(w http.ResponseWriter, r *http.Request, status int, name string, data any, formTargets ...string) {
	var buf bytes.Buffer
	if err := p.templates[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		zaplog.For(r.Context(), p.log).Error("rendering page", zap.String("page", name), zap.Error(err))
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>Internal error.</p>")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	webpage.SetHeaders(w.Header(), formTargets...)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorPage struct {
	pageData
	Title, Message string
	Code           domain.ErrorCode
}

// fail shows an error page, mapping err as the OAuth edge does: protocol
// errors are the caller's, a down backend is a 503, anything else a logged 500.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(w, r, p.log, err) {
		return
	}
	var pe *domain.Error
	switch {
	case errors.As(err, &pe):
		p.render(w, r, status(pe.Code), "error", errorPage{pageData: p.data(w, r), Title: "This request cannot be completed", Message: pe.Description, Code: pe.Code})
	case errors.Is(err, domain.ErrUnavailable):
		zaplog.For(r.Context(), p.log).Warn("backend unavailable", zap.Error(err))
		w.Header().Set("Retry-After", retryAfter(err))
		p.render(w, r, http.StatusServiceUnavailable, "error", errorPage{pageData: p.data(w, r), Title: "Temporarily unavailable", Message: "Please try again in a moment.", Code: domain.TemporarilyUnavailable})
	default:
		zaplog.For(r.Context(), p.log).Error("internal error", zap.Error(err))
		p.render(w, r, http.StatusInternalServerError, "error", errorPage{pageData: p.data(w, r), Title: "Something went wrong", Message: "An internal error occurred.", Code: domain.ServerError})
	}
}

// CSRF. Every form carries a token derived from a secret the browser holds
// in an HttpOnly cookie: the session cookie once signed in, before that a
// pre-session cookie of its own. The token is HMAC-SHA256 keyed with that
// secret, so it is bound to it: a token of another session, or of the
// same browser before login or after logout, does not match. Nothing is
// stored, and every replica computes the same token. A POST must carry the
// token of the cookie it comes with. At login the pre-session cookie is
// dropped and the session's takes over; at logout both go, and the next
// page makes a new pre-session cookie: the token changes at both.
//
// Another site can make the browser send the cookies but cannot read them,
// or the page, to learn the token. http.CrossOriginProtection stands in
// front as a second wall (see NewHandler): browsers say where a POST comes
// from, and a cross-origin one is refused even with a good token.

const csrfField = "csrf_token"

// minCookieSecret is the shortest cookie value taken as a CSRF secret:
// 32 random bytes make 43 characters; anything shorter was not made here.
const minCookieSecret = 43

func (p *pages) cookie(name, value string, maxAge int) *http.Cookie {
	return p.cookies.New(name, p.cookiePath, value, maxAge)
}

// cookieName is the name the cookie name is set and read under.
func (p *pages) cookieName(name string) string { return p.cookies.Name(name, p.cookiePath) }

// csrfSecret is what the request's CSRF token derives from: the session
// cookie if there is one, else the pre-session cookie; "" if neither.
func (p *pages) csrfSecret(r *http.Request) string {
	if v := cookieSecret(r, p.cookieName(sessionCookie)); v != "" {
		return "session " + v
	}
	if v := cookieSecret(r, p.cookieName(csrfCookie)); v != "" {
		return "pre-session " + v
	}
	return ""
}

// cookieSecret is the first value of the named cookie long enough to be
// one this server made, or "". (A browser sends the cookie of the longest
// path first, when there are several.)
func cookieSecret(r *http.Request, name string) string {
	for _, c := range r.CookiesNamed(name) {
		if len(c.Value) >= minCookieSecret {
			return c.Value
		}
	}
	return ""
}

// csrfToken is the token of the forms of a browser holding secret.
func csrfToken(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("authserver form token"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// data returns the common page data, making the browser a pre-session
// cookie if it has no cookie to bind the CSRF token to. The new cookie is
// also added to r, so the rest of the request binds to the same one.
func (p *pages) data(w http.ResponseWriter, r *http.Request) pageData {
	secret := p.csrfSecret(r)
	if secret == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		c := p.cookie(csrfCookie, base64.RawURLEncoding.EncodeToString(b), 0)
		http.SetCookie(w, c)
		r.AddCookie(c)
		secret = p.csrfSecret(r)
	}
	return pageData{Base: p.base, CSRF: csrfToken(secret)}
}

// checkCSRF parses the form and reports whether it carries the token of
// the cookie it came with; if not, it answers 403.
func (p *pages) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	if secret := p.csrfSecret(r); secret != "" && r.ParseForm() == nil {
		got := r.PostFormValue(csrfField)
		if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(secret))) == 1 {
			return true
		}
	}
	p.formRefused(w, r)
	return false
}

// formRefused is the answer to a form that did not come from this site's
// page in this browser: a missing or stale CSRF token, or a cross-origin
// POST.
func (p *pages) formRefused(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusForbidden, "error", errorPage{pageData: p.data(w, r), Title: "Please try again",
		Message: "This form expired or did not come from this site. Go back, reload the page and submit it again."})
}

// startBrowserSession sets the cookie of a new session and drops the
// pre-session cookie: from here the forms' tokens derive from the session.
func (p *pages) startBrowserSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, p.cookie(sessionCookie, token, 0))
	http.SetCookie(w, p.cookie(csrfCookie, "", -1))
}

// endBrowserSession drops both cookies: the next page makes a new
// pre-session cookie, so no token from before survives.
func (p *pages) endBrowserSession(w http.ResponseWriter) {
	http.SetCookie(w, p.cookie(sessionCookie, "", -1))
	http.SetCookie(w, p.cookie(csrfCookie, "", -1))
}

// sessionToken is the browser's session cookie, "" if it has none.
func (p *pages) sessionToken(r *http.Request) string {
	c, err := r.Cookie(p.cookieName(sessionCookie))
	if err != nil {
		return ""
	}
	return c.Value
}

// session returns the signed-in user's session, if any.
func (p *pages) session(r *http.Request, accounts Accounts) (domain.Session, bool, error) {
	token := p.sessionToken(r)
	if token == "" {
		return domain.Session{}, false, nil
	}
	s, err := accounts.Session(r.Context(), token)
	if errors.Is(err, app.ErrNoSession) {
		return domain.Session{}, false, nil
	}
	if err != nil {
		return domain.Session{}, false, err
	}
	zaplog.SetUserID(r.Context(), s.UserID)
	return s, true, nil
}

// loginURL sends the browser to the login page and back to returnTo after.
func (p *pages) loginURL(returnTo string) string {
	return p.loginURLFor(returnTo, false, "")
}

// loginURLFor is loginURL for an authorization request: again asks the
// login page to show its form even to a browser that is signed in
// (prompt=login, max_age), hint is a username to fill in (login_hint).
func (p *pages) loginURLFor(returnTo string, again bool, hint string) string {
	v := url.Values{"return_to": {returnTo}}
	if again {
		v.Set("prompt", "login")
	}
	if hint != "" {
		v.Set("login_hint", hint)
	}
	return p.base + "/login?" + v.Encode()
}

// safeReturn accepts only this server's own pages as a place to go after
// signing in, so return_to cannot be turned into an open redirect: a
// relative path under the base, no scheme, no host, no "//" or "\" tricks.
func (p *pages) safeReturn(s string) string {
	fallback := p.base + "/account"
	if s == "" || strings.ContainsAny(s, "\\\r\n") || strings.HasPrefix(s, "//") {
		return fallback
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	switch u.Path {
	case p.base + "/authorize", p.base + "/account", p.base + "/developer":
		return u.RequestURI()
	}
	return fallback
}

// redirect sends a 303 after a POST (RFC 9700 §4.12: a 307 would make the
// browser repost the password to wherever it goes next) and a 302 otherwise.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	code := http.StatusFound
	if r.Method == http.MethodPost {
		code = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	// to is one of this server's pages (safeReturn, loginURL) or a client's
	// registered redirect URI, checked by app.Authorizer.Validate.
	http.Redirect(w, r, to, code) //nolint:gosec // G710: see above
}

// handleStatic serves the embedded stylesheet and whatever joins it in
// static/.
func handleStatic() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return webpage.Static(sub, time.Hour)
}
