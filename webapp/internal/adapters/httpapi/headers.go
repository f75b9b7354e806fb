package httpapi

import (
	"net/http"

	"github.com/oauth2ref/pkg/zaplog"
)

// contentSecurityPolicy allows the page its own stylesheet and nothing
// else: no scripts at all, no framing, forms only to the webapp.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders sets the headers every page and redirect carries: no framing
// (clickjacking), a CSP, no Referer (the callback URL holds the code, and a
// link followed from the page would leak it), no caching (the pages show a
// user's data and carry CSRF tokens), no content sniffing.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
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

// handleStyle serves the stylesheet, the one resource the CSP lets pages
// load.
func handleStyle() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(styleCSS)
	})
}
