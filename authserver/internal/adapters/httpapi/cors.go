package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/zaplog"
)

// CORS (the Fetch standard's cross-origin resource sharing) lets a page
// served from another origin (a browser app, a public client) read the
// answers of the endpoints it needs: the token and revocation endpoints,
// for the origins its client registered, and the JWKS and the metadata
// document, which are public, for every origin. Nothing else answers
// CORS: not the pages, which are for the server's own origin, and not
// introspection, which is for resource servers. There is no credentials
// mode: a browser app authenticates with PKCE or its own headers, never
// with this server's cookies.

// OriginChecker says whether any client allows an origin, which is all a
// preflight can ask: it does not carry the client.
type OriginChecker interface {
	// OriginAllowed reports whether any client lists origin.
	OriginAllowed(ctx context.Context, origin string) (bool, error)
}

// corsMaxAge is how long a browser may keep a preflight's answer.
const corsMaxAge = 10 * time.Minute

type corsKey struct{}

// corsState is what the client CORS wrapper leaves for authenticate: the
// request's origin and the response's headers, where the
// Access-Control-Allow-Origin it set waits to be withdrawn if the client
// turns out not to allow the origin.
type corsState struct {
	origin string
	header http.Header
}

// clientCORS wraps an endpoint that authenticates its client (token,
// revocation). An origin some client allows is answered; once the request's
// client is known, only that client's origins are (corsClient), so a token
// is readable only by a page of its own client. A request whose client is
// never known (a malformed one, a failed authentication) gets an error that
// says nothing of any client, readable by any allowed origin.
func clientCORS(origins OriginChecker, log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" && originAllowed(r, origins, origin, log) {
			h.Set("Access-Control-Allow-Origin", origin)
			r = r.WithContext(context.WithValue(r.Context(), corsKey{}, &corsState{origin: origin, header: h}))
		}
		next.ServeHTTP(w, r)
	})
}

// clientPreflight answers the preflight (OPTIONS) of a POST from a page of
// an origin some client allows, with the headers a client sends: its
// credentials, and the form's content type. Any other preflight gets no
// CORS header, so the browser does not send the request.
func clientPreflight(origins OriginChecker, log *zap.Logger) http.Handler {
	maxAge := strconv.Itoa(int(corsMaxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		origin := r.Header.Get("Origin")
		if origin != "" && r.Header.Get("Access-Control-Request-Method") == http.MethodPost &&
			originAllowed(r, origins, origin, log) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", http.MethodPost)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", maxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// originAllowed asks origins; a store that cannot answer allows nothing,
// and so does a server built without origins.
func originAllowed(r *http.Request, origins OriginChecker, origin string, log *zap.Logger) bool {
	if origins == nil {
		return false
	}
	ok, err := origins.OriginAllowed(r.Context(), origin)
	if err != nil {
		zaplog.For(r.Context(), log).Warn("checking a CORS origin", zap.Error(err))
		return false
	}
	return ok
}

// corsClient withdraws the Access-Control-Allow-Origin clientCORS set when
// the request's authenticated client does not allow the origin.
func corsClient(ctx context.Context, c domain.Client) {
	if s, ok := ctx.Value(corsKey{}).(*corsState); ok && !c.AllowsOrigin(s.origin) {
		s.header.Del("Access-Control-Allow-Origin")
	}
}

// publicCORS lets every origin read a public document (JWKS, metadata).
// They are read with simple GETs, so there is no preflight to answer.
func publicCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		next.ServeHTTP(w, r)
	})
}
