package httpapi

// The browser demo's pages: the home page, sign-in (GET /login, GET
// /callback) and sign-out (POST /logout), rendered with html/template from
// embedded files, plus their stylesheet.
//
// The browser holds two cookies, both HttpOnly and SameSite=Lax: the
// sign-in in progress itself, sealed (encrypted and authenticated, see
// sealed.go) so that the webapp keeps nothing for it, and a random id naming
// the session, which lives on the server (package app's SessionStore).

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/webpage"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// Browser is the use cases the pages call.
type Browser interface {
	// StartLogin makes a new sign-in attempt, to come back to returnTo, and
	// returns the authorization request to send the browser to.
	StartLogin(returnTo string) app.LoginStart
	// CompleteLogin checks the authorization server's answer to the attempt
	// (the zero attempt if the browser brought none), redeems its code and
	// opens a new session, ending oldSession.
	CompleteLogin(ctx context.Context, attempt domain.LoginAttempt, oldSession domain.Secret, resp domain.AuthorizationResponse) (app.SignIn, error)
	// Home returns what the home page shows for the session; an empty or
	// unknown session is the signed-out view.
	Home(ctx context.Context, sessionID domain.Secret) (app.HomeView, error)
	// Logout ends the session if csrfToken is its CSRF token, and revokes its
	// refresh token.
	Logout(ctx context.Context, sessionID domain.Secret, csrfToken string) (app.SignOut, error)
}

// PageDeps are the pages' dependencies.
type PageDeps struct {
	Browser Browser
	// Log is where failures are logged (a no-op logger if nil).
	Log *zap.Logger
	// CookieKey seals the sign-in cookie: at least MinCookieKeyLen random
	// bytes, the same for every replica, so that a sign-in started on one
	// can be completed on another.
	CookieKey []byte
	// SecureCookies marks the cookies Secure. Set it when the webapp's own
	// base URL (its redirect URI) is https.
	SecureCookies bool
	// ClientID is the webapp's browser client id, put on each request's
	// log lines.
	ClientID string
	// SignOutTarget is the origin of the authserver's end_session
	// endpoint, where the sign-out form's answer sends the browser: the
	// pages' CSP must let their forms lead there (form-action). "" when
	// signing out stays on the webapp.
	SignOutTarget string
	// Now is the clock for cookie lifetimes (time.Now if nil).
	Now func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates in templates/, each rendered inside
// layout.html.
var pageNames = []string{"home", "message"}

// Pages serves the browser demo.
type Pages struct {
	d       PageDeps
	sealer  *sealer
	cookies webpage.Cookies
	pages   map[string]*template.Template
}

// NewPages parses the templates and returns the pages.
func NewPages(d PageDeps) (*Pages, error) {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	sl, err := newSealer(d.CookieKey)
	if err != nil {
		return nil, err
	}
	p := &Pages{d: d, sealer: sl, cookies: webpage.Cookies{Secure: d.SecureCookies}, pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("httpapi: template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}

// headers sets every page's security headers (webpage.SetHeaders), with
// the sign-out form's target.
func (p *Pages) headers(next http.Handler) http.Handler {
	var targets []string
	if p.d.SignOutTarget != "" {
		targets = append(targets, p.d.SignOutTarget)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		webpage.SetHeaders(w.Header(), targets...)
		next.ServeHTTP(w, r)
	})
}

// logClient puts the browser client's id on the request's log lines.
func (p *Pages) logClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zaplog.SetClientID(r.Context(), p.d.ClientID)
		next.ServeHTTP(w, r)
	})
}

// handleStatic serves the stylesheet, the one resource the CSP lets pages
// load.
func handleStatic() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return webpage.Static(sub, 5*time.Minute)
}
