package web

import (
	"errors"
	"net/http"

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
		id := cookieValue(r, sessionCookie)
		view, err := p.d.Browser.Home(r.Context(), id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if id != "" && !view.SignedIn {
			// Ended, expired or unknown: the cookie names nothing now.
			p.setCookie(w, sessionCookie, "/", "", -1)
		}
		data, status := p.homeData(r, view)
		p.render(w, r, status, "home", data)
	})
}

// handleLogin starts a sign-in and sends the browser to the authserver.
func handleLogin(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, err := p.d.Browser.StartLogin(r.Context())
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.setCookie(w, loginCookie, loginCookiePath, start.Attempt.ID, p.secondsUntil(start.Attempt.Expires))
		http.Redirect(w, r, start.URL, http.StatusFound)
	})
}

// callbackParams are the authorization response's parameters, none of
// which may appear twice (RFC 6749 §3.1).
var callbackParams = []string{"code", "state", "iss", "error", "error_description"}

// handleCallback completes a sign-in with the authserver's answer and, on
// success, starts a session under a new cookie and goes home.
func handleCallback(p *Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt := cookieValue(r, loginCookie)
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
		s, err := p.d.Browser.CompleteLogin(r.Context(), attempt, cookieValue(r, sessionCookie), resp)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.setCookie(w, sessionCookie, "/", s.ID, p.secondsUntil(s.Expires))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
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
		out, err := p.d.Browser.Logout(r.Context(), cookieValue(r, sessionCookie), r.PostForm.Get("csrf_token"))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if out.RevokeErr != nil {
			zaplog.For(r.Context(), p.d.Log).Warn("refresh token revocation failed; the session is cleared anyway",
				zap.String("service", string(domain.ServiceOf(out.RevokeErr))), zap.Error(out.RevokeErr))
		}
		p.setCookie(w, sessionCookie, "/", "", -1)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}
