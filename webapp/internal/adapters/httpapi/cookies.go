package httpapi

import (
	"net/http"
	"time"

	"github.com/oauth2ref/webapp/internal/domain"
)

// The cookies, named as under plain http; over https they carry the prefix
// the browser enforces (webpage.Cookies): __Host-webapp_session and
// __Secure-webapp_login.
const (
	// sessionCookie names the signed-in session.
	sessionCookie     = "webapp_session"
	sessionCookiePath = "/"
	// loginCookie holds the sign-in in progress, sealed. Only the callback
	// reads it, so only the callback is sent it.
	loginCookie     = "webapp_login"
	loginCookiePath = "/callback"
)

// cookieValue is the value of the cookie name at path, or "" if there is
// none.
func (p *Pages) cookieValue(r *http.Request, name, path string) domain.Secret {
	return domain.Secret(p.cookies.Value(r, name, path))
}

// setCookie sets a cookie that scripts cannot read (HttpOnly, though the
// pages run none) and that other sites' requests carry only on top-level
// navigations (SameSite=Lax), which is how the authserver's redirect to the
// callback arrives. maxAge < 0 deletes it.
func (p *Pages) setCookie(w http.ResponseWriter, name, path string, value domain.Secret, maxAge int) {
	http.SetCookie(w, p.cookies.New(name, path, string(value), maxAge))
}

// secondsUntil is a cookie Max-Age ending at t (at least 1: 0 would mean a
// cookie without an end).
func (p *Pages) secondsUntil(t time.Time) int {
	s := int(t.Sub(p.d.Now()).Seconds())
	if s < 1 {
		s = 1
	}
	return s
}
