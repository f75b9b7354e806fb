package webpage_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/pkg/webpage"
)

func TestHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	webpage.Headers(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	for k, v := range map[string]string{
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
	} {
		assert.Equal(t, v, w.Header().Get(k), k)
	}
	assert.Equal(t, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://app.example com.example.app:; frame-ancestors 'none'; base-uri 'none'",
		webpage.CSP("https://app.example", "com.example.app:"), "form targets join 'self'")
}

func TestCookies(t *testing.T) {
	for _, tc := range []struct {
		secure     bool
		path, want string
	}{
		{false, "/", "sid"},
		{false, "/callback", "sid"},
		{true, "/", "__Host-sid"},
		{true, "/callback", "__Secure-sid"},
	} {
		cookies := webpage.Cookies{Secure: tc.secure}
		c := cookies.New("sid", tc.path, "v", 60)
		assert.Equal(t, tc.want, c.Name)
		assert.Equal(t, tc.path, c.Path)
		assert.Equal(t, tc.secure, c.Secure)
		assert.True(t, c.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
		assert.Empty(t, c.Domain, "a __Host- cookie has no Domain")
		assert.Equal(t, 60, c.MaxAge)

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.secure {
			// Planted by a sibling host or a plain-http page: not read.
			r.AddCookie(&http.Cookie{Name: "sid", Value: "planted"})
		}
		r.AddCookie(c)
		assert.Equal(t, "v", cookies.Value(r, "sid", tc.path), "read under the name it is set under")
		assert.Empty(t, cookies.Value(r, "other", tc.path))
	}
}

func TestStatic(t *testing.T) {
	h := http.StripPrefix("/static", webpage.Static(fstest.MapFS{
		"style.css":     {Data: []byte("body{}")},
		"dir/inner.css": {Data: []byte("p{}")},
	}, time.Hour))
	for path, want := range map[string]int{
		"/static/style.css":     200,
		"/static/dir/inner.css": 200,
		"/static/":              404,
		"/static/dir/":          404,
		"/static/nope.css":      404,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, want, w.Code, path)
		assert.NotContains(t, w.Body.String(), "inner.css", "%s lists no directory", path)
		if want == 200 {
			assert.Equal(t, "text/css; charset=utf-8", w.Header().Get("Content-Type"))
			assert.Equal(t, "public, max-age=3600", w.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		}
	}
}
