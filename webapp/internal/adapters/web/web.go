// Package web is the browser demo's HTML edge: the home page, sign-in
// (GET /login, GET /callback) and sign-out (POST /logout), rendered with
// html/template from embedded files, plus their stylesheet. Every route is
// listed in routes.go.
//
// State lives on the server (package app's stores); the browser holds only
// two random cookies, both HttpOnly and SameSite=Lax: one naming the
// sign-in in progress, one naming the session.
package web

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// Browser is the use cases the pages call.
type Browser interface {
	// StartLogin records a new sign-in attempt and returns the authorization
	// request to send the browser to.
	StartLogin(ctx context.Context) (app.LoginStart, error)
	// CompleteLogin checks the authorization server's answer to the attempt,
	// redeems its code and opens a new session, ending oldSession.
	CompleteLogin(ctx context.Context, attemptID, oldSession domain.Secret, resp domain.AuthorizationResponse) (domain.Session, error)
	// Home returns what the home page shows for the session; an empty or
	// unknown session is the signed-out view.
	Home(ctx context.Context, sessionID domain.Secret) (app.HomeView, error)
	// Logout ends the session if csrfToken is its CSRF token, and revokes its
	// refresh token.
	Logout(ctx context.Context, sessionID domain.Secret, csrfToken string) (app.SignOut, error)
}

// Deps are the pages' dependencies.
type Deps struct {
	Browser Browser
	// Log is where failures are logged (a no-op logger if nil).
	Log *zap.Logger
	// SecureCookies marks the cookies Secure. Set it when the webapp's own
	// base URL (its redirect URI) is https.
	SecureCookies bool
	// ClientID is the webapp's browser client id, put on each request's
	// log lines.
	ClientID string
	// Now is the clock for cookie lifetimes (time.Now if nil).
	Now func() time.Time
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var styleCSS []byte

// pageNames are the templates in templates/, each rendered inside
// layout.html.
var pageNames = []string{"home", "message"}

// Pages serves the browser demo.
type Pages struct {
	d     Deps
	pages map[string]*template.Template
}

// New parses the templates and returns the pages.
func New(d Deps) (*Pages, error) {
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	p := &Pages{d: d, pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.pages[name] = t
	}
	return p, nil
}
