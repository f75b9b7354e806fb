package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/domain"
)

// endedNotice is what the home page says when it has just ended a session
// whose grant is no longer accepted.
const endedNotice = "Your access was revoked or expired; sign in again"

// handleHome shows the signed-out explanation, or the signed-in user's
// times read from the resource server just now.
func handleHome(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := p.cookieValue(r, sessionCookie, sessionCookiePath)
		view, err := p.d.Browser.Home(r.Context(), id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if id != "" && !view.SignedIn {
			// Ended, expired or unknown: the cookie names nothing now.
			p.setCookie(w, sessionCookie, sessionCookiePath, "", -1)
		}
		data, status := p.homeData(r, view)
		p.render(w, r, status, "home", data)
	})
}

// handleLogin starts a sign-in and sends the browser to the authserver.
// The attempt goes into the sign-in cookie, sealed; nothing is stored, so a
// flood of /login costs the webapp nothing. A return_to parameter names
// the page to show once signed in.
func handleLogin(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := p.d.Browser.StartLogin(returnPath(r.URL.Query().Get("return_to")))
		sealed, err := p.sealer.seal(start.Attempt)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.setCookie(w, loginCookie, loginCookiePath, domain.Secret(sealed), p.secondsUntil(start.Attempt.Expires))
		http.Redirect(w, r, start.URL, http.StatusFound)
	})
}

// maxReturnPath bounds return_to, which travels in the sign-in cookie.
const maxReturnPath = 512

// returnPath is raw if it is a path on this site the browser may be sent
// to after signing in, else "" (the home page). Never another site: not
// "//host" or "/\host" (which browsers read as //host), nothing with a
// scheme, no control characters. Never the sign-in routes themselves,
// which would start the sign-in over and over.
func returnPath(raw string) string {
	if raw == "" || len(raw) > maxReturnPath || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	switch path.Clean(u.Path) {
	case "/login", loginCookiePath, "/logout":
		return ""
	}
	return raw
}

// callbackParams are the authorization response's parameters, none of
// which may appear twice (RFC 6749 §3.1).
var callbackParams = []string{"code", "state", "iss", "error", "error_description"}

// handleCallback completes a sign-in with the authserver's answer and, on
// success, starts a session under a new cookie and goes to the page the
// sign-in was for.
func handleCallback(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt := p.attempt(r)
		// Whatever happens, this sign-in is over.
		p.setCookie(w, loginCookie, loginCookiePath, "", -1)

		q := r.URL.Query()
		for _, name := range callbackParams {
			if len(q[name]) > 1 {
				p.fail(w, r, &domain.Error{Code: domain.LoginFailed,
					Description: "the answer from the authserver repeats its " + name + " parameter"})
				return
			}
		}
		resp := domain.AuthorizationResponse{
			Code:             domain.Secret(q.Get("code")),
			State:            q.Get("state"),
			Issuer:           q.Get("iss"),
			Error:            q.Get("error"),
			ErrorDescription: q.Get("error_description"),
		}
		in, err := p.d.Browser.CompleteLogin(r.Context(), attempt, p.cookieValue(r, sessionCookie, sessionCookiePath), resp)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		log := zaplog.For(r.Context(), p.d.Log)
		if in.Evicted > 0 {
			log.Info("the user's oldest sessions were ended to keep within the per-user cap", zap.Int("sessions", in.Evicted))
		}
		if in.RevokeErr != nil {
			log.Warn("revoking an ended session's refresh token failed; the session is gone anyway",
				zap.String("service", string(domain.ServiceOf(in.RevokeErr))), zap.Error(in.RevokeErr))
		}
		if in.NameErr != nil {
			log.Warn("reading the user's name from UserInfo failed; signed in without it", zap.Error(in.NameErr))
		}
		p.setCookie(w, sessionCookie, sessionCookiePath, in.Session.ID, p.secondsUntil(in.Session.Expires))
		to := in.ReturnTo
		if to == "" {
			to = "/"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// attempt is the sign-in the request's cookie holds, or the zero attempt
// if it holds none that opens.
func (p *Pages) attempt(r *http.Request) domain.LoginAttempt {
	v := p.cookieValue(r, loginCookie, loginCookiePath)
	if v == "" {
		return domain.LoginAttempt{}
	}
	a, err := p.sealer.open(string(v))
	if err != nil {
		// Altered, from before a key change, or sealed by a replica with
		// another key. Debug only: anyone can send a bad cookie.
		zaplog.For(r.Context(), p.d.Log).Debug("the sign-in cookie did not open", zap.Error(err))
		return domain.LoginAttempt{}
	}
	return a
}

// handleLogout ends the session, if the form carries its CSRF token, and
// goes home.
func handleLogout(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				p.message(w, r, http.StatusRequestEntityTooLarge, messageData{Title: "Request too large",
					Text: "The form sent was larger than the webapp accepts."})
				return
			}
			p.fail(w, r, &domain.Error{Code: domain.InvalidRequest, Description: "the form could not be read"})
			return
		}
		out, err := p.d.Browser.Logout(r.Context(), p.cookieValue(r, sessionCookie, sessionCookiePath), r.PostForm.Get("csrf_token"))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if out.RevokeErr != nil {
			zaplog.For(r.Context(), p.d.Log).Warn("refresh token revocation failed; the session is cleared anyway",
				zap.String("service", string(domain.ServiceOf(out.RevokeErr))), zap.Error(out.RevokeErr))
		}
		p.setCookie(w, sessionCookie, sessionCookiePath, "", -1)
		to := "/"
		if out.EndSessionURL != "" {
			// On to the authserver, to sign out there too (RP-Initiated
			// Logout); it sends the browser back to the home page.
			to = out.EndSessionURL
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}
