package httpapi

import (
	"net/http"
	"time"

	"github.com/oauth2ref/webapp/internal/domain"
)

const (
	// sessionCookie names the signed-in session.
	sessionCookie = "webapp_session"
	// loginCookie holds the sign-in in progress, sealed. Only the callback
	// reads it, so only the callback is sent it.
	loginCookie     = "webapp_login"
	loginCookiePath = "/callback"
)

// cookieValue is the named cookie's value, or "" if there is none.
func cookieValue(r *http.Request, name string) domain.Secret {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return domain.Secret(c.Value)
}

// setCookie sets a cookie that scripts cannot read (HttpOnly, though the
// pages run none) and that other sites' requests carry only on top-level
// navigations (SameSite=Lax), which is how the authserver's redirect to the
// callback arrives. maxAge < 0 deletes it.
func (p *Pages) setCookie(w http.ResponseWriter, name, path string, value domain.Secret, maxAge int) {
	//nolint:gosec // G124: Secure is on whenever the webapp is served over https (Deps.SecureCookies)
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    string(value),
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   p.d.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
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
