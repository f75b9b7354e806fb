package httpapi

import (
	"errors"
	"net/http"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// deviceCookie holds the known-device token (app.DeviceCookies) of the
// user who last signed in on this browser. It is read only by the login
// form's POST, and lives as long as a browser keeps a cookie.
const deviceCookie = "authserver_device"

// loginAttempt is what the login form's POST asks Accounts.Login.
func (p *pages) loginAttempt(r *http.Request) app.LoginAttempt {
	at := app.LoginAttempt{Username: r.PostFormValue("username"), Password: r.PostFormValue("password"), Source: sourceOf(r)}
	if c, err := r.Cookie(p.cookieName(deviceCookie)); err == nil {
		at.Device = c.Value
	}
	return at
}

// rememberDevice sets the device cookie a successful login issued.
func (p *pages) rememberDevice(w http.ResponseWriter, res app.LoginResult) {
	if res.Device != "" {
		http.SetCookie(w, p.cookie(deviceCookie, res.Device, int(app.DeviceCookieTTL.Seconds())))
	}
}

// loginRefused renders the login form again with why the attempt was
// refused: 429 with Retry-After when the limits refused it, 400 for a
// malformed username, 401 for wrong credentials. It reports false for
// errors that are not the person's (an outage), which the caller fails
// with.
func (p *pages) loginRefused(w http.ResponseWriter, r *http.Request, err error, data loginPage) bool {
	var pe *domain.Error
	if !errors.As(err, &pe) {
		return false
	}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, domain.ErrThrottled):
		setRetryAfter(w, err)
		status = http.StatusTooManyRequests
	case pe.Code == domain.InvalidRequest:
		status = http.StatusBadRequest
	}
	data.Error = pe.Description
	p.render(w, r, status, "login", data, p.returnTargets(r, data.ReturnTo)...)
	return true
}
