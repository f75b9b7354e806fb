package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Routes adds the pages to r.
func (p *Pages) Routes(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(pageHeaders, p.logClient)
		r.Method(http.MethodGet, "/", handleHome(p))
		r.Method(http.MethodGet, "/login", handleLogin(p))
		r.Method(http.MethodGet, "/callback", handleCallback(p))
		r.Method(http.MethodPost, "/logout", handleLogout(p))
	})
	r.Method(http.MethodGet, "/static/style.css", handleStyle())
}
