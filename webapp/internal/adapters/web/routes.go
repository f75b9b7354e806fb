package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Routes adds the pages to r. Besides the session's CSRF token, a POST
// the browser marks as cross-origin is refused outright
// (http.CrossOriginProtection).
func (p *Pages) Routes(r chi.Router) {
	sameOrigin := http.NewCrossOriginProtection()
	sameOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.message(w, r, http.StatusForbidden, messageData{Title: "Please try again",
			Text: "This form did not come from this site. Go back, reload the page and submit it again."})
	}))
	r.Group(func(r chi.Router) {
		r.Use(pageHeaders, p.logClient, sameOrigin.Handler)
		r.Method(http.MethodGet, "/", handleHome(p))
		r.Method(http.MethodGet, "/login", handleLogin(p))
		r.Method(http.MethodGet, "/callback", handleCallback(p))
		r.Method(http.MethodPost, "/logout", handleLogout(p))
	})
	r.Method(http.MethodGet, "/static/style.css", handleStyle())
}
