package httpapi

import (
	"context"
	"net/http"

	"github.com/oauth2ref/pkg/httpserver"
)

// The request-scoped values of this package, under unexported keys.

type proxiesKey struct{}

// withProxies makes the trusted proxies known to sourceOf. Without it
// every request is attributed to its peer.
func withProxies(tp httpserver.TrustedProxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), proxiesKey{}, tp)))
		})
	}
}

// sourceOf is where r comes from, as the limits count it: the client
// address (X-Forwarded-For believed only from a trusted proxy), an IPv6
// address by its /64.
func sourceOf(r *http.Request) string {
	tp, _ := r.Context().Value(proxiesKey{}).(httpserver.TrustedProxies)
	return httpserver.SourceKey(tp.ClientAddr(r))
}

// clientAddr is the address r comes from, as sourceOf finds it, in full:
// what a session records of where it was opened.
func clientAddr(r *http.Request) string {
	tp, _ := r.Context().Value(proxiesKey{}).(httpserver.TrustedProxies)
	if a := tp.ClientAddr(r); a.IsValid() {
		return a.String()
	}
	return ""
}
