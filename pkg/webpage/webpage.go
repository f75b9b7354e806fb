// Package webpage is what the services' HTML pages share: the security
// headers every page carries, the settings of the cookies pages set, and
// serving their static files.
package webpage

import (
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CSP is the Content-Security-Policy of a page: its own stylesheets and
// images and nothing else (no scripts at all, no plugins, no <base>), no
// framing by anyone, and forms that post only to the page's own origin and
// to formTargets.
//
// Browsers apply form-action to the redirects that follow a form's
// submission too: a form whose POST ends in a redirect to another origin
// (an authorization server's consent form, sending the browser back to the
// client) must name that origin in formTargets.
func CSP(formTargets ...string) string {
	var b strings.Builder
	b.WriteString("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'")
	for _, t := range formTargets {
		b.WriteString(" " + t)
	}
	b.WriteString("; frame-ancestors 'none'; base-uri 'none'")
	return b.String()
}

// SetHeaders sets the headers every page and every redirect of a page
// carries: no framing (clickjacking), the CSP, no Referer (URLs may carry
// codes, and a link followed from a page would leak them), no caching (pages
// show a user's data and carry CSRF tokens), no content sniffing.
func SetHeaders(h http.Header, formTargets ...string) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", CSP(formTargets...))
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// Headers is middleware that sets SetHeaders, forms posting only to the
// page's origin, on every response.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

// Cookies makes the cookies of a site's pages. Every one is HttpOnly (no
// script may read it) and SameSite=Lax (another site's requests carry it
// only on top-level navigations, which is how an authorization server's
// redirect arrives). When Secure, for a site served over https, cookies are
// Secure and named with the prefix the browser then enforces: __Host- at
// Path=/, which it takes only with Secure and no Domain, so that no other
// host (a sibling subdomain) and no plain-http page can set or overwrite
// it, as a planted session or CSRF cookie would need; __Secure- at a
// narrower path, which it takes only with Secure.
type Cookies struct {
	Secure bool
}

// Name is the name the cookie name at path is set and read under.
func (c Cookies) Name(name, path string) string {
	switch {
	case !c.Secure:
		return name
	case path == "/":
		return "__Host-" + name
	}
	return "__Secure-" + name
}

// New returns the cookie name at path with value, under its Name. A
// maxAge of 0 lasts as long as the browser keeps its session; a negative
// one deletes the cookie.
func (c Cookies) New(name, path, value string, maxAge int) *http.Cookie {
	//nolint:gosec // G124: Secure is on whenever the site is served over https (Cookies.Secure)
	return &http.Cookie{Name: c.Name(name, path), Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
}

// Value is the value of the request's cookie name at path, or "".
func (c Cookies) Value(r *http.Request, name, path string) string {
	ck, err := r.Cookie(c.Name(name, path))
	if err != nil {
		return ""
	}
	return ck.Value
}

// Static serves the files of fsys (a page's stylesheet, say), cached for
// maxAge, never sniffed, and never a listing of a directory: a directory
// is a 404 like a missing file.
func Static(fsys fs.FS, maxAge time.Duration) http.Handler {
	files := http.FileServerFS(filesOnly{fsys})
	cache := "public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cache)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// filesOnly hides the directories of a file system: opening one fails as
// if it were not there, so a file server answers 404, not a listing.
type filesOnly struct{ fsys fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		_ = file.Close() // read-only: nothing to lose
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}
