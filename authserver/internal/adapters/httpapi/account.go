package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/zaplog"
)

type loginPage struct {
	pageData
	ReturnTo    string
	Username    string
	MinPassword int
	// The sign-up page's profile fields, kept when the form comes back
	// with an error.
	Name, Email string
}

// handleLoginForm shows the login page, or skips it for a signed-in user
// unless an authorization request wants them to sign in again
// (prompt=login). A login_hint fills in the username.
func handleLoginForm(p *pages, accounts Accounts, signup bool) http.Handler {
	name := "login"
	if signup {
		name = "signup"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		returnTo := p.safeReturn(q.Get("return_to"))
		if _, ok, err := p.session(r, accounts); err == nil && ok && q.Get("prompt") != "login" {
			redirect(w, r, returnTo)
			return
		}
		data := loginPage{pageData: p.data(w, r), ReturnTo: returnTo, MinPassword: p.cfg.MinPassword, Username: hintedUsername(q.Get("login_hint"))}
		if r.URL.Query().Get("closed") != "" {
			data.Notice = "Your account was deleted, with everything it held."
		}
		p.render(w, r, http.StatusOK, name, data, p.returnTargets(r, returnTo)...)
	})
}

// handleLogin checks the credentials and starts a session. The session
// token is new on every login, so a token planted before login (session
// fixation) is worth nothing after it.
func handleLogin(p *pages, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(w, r) {
			return
		}
		returnTo := p.safeReturn(r.PostFormValue("return_to"))
		at := p.loginAttempt(r)
		res, err := accounts.Login(r.Context(), at)
		if err != nil {
			if !p.loginRefused(w, r, err, loginPage{pageData: p.data(w, r), ReturnTo: returnTo, Username: at.Username}) {
				p.fail(w, r, err)
			}
			return
		}
		p.rememberDevice(w, res)
		startSession(w, r, p, accounts, res.User, returnTo)
	})
}

// hintedUsername is a login_hint as the username field's value: only a
// hint that could be a username, at most MaxUsernameBytes of printable
// characters (an email address or a phone number is left out rather than
// shown half-right).
func hintedUsername(hint string) string {
	if hint == "" || len(hint) > app.MaxUsernameBytes || strings.ContainsFunc(hint, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return ""
	}
	return hint
}

// startSession opens a new session for user and sends the browser on.
// A session the browser had (a sign-in again, for prompt=login) is ended:
// its token is replaced, and nothing would end it otherwise.
func startSession(w http.ResponseWriter, r *http.Request, p *pages, accounts Accounts, user domain.User, returnTo string) {
	token, _, err := accounts.StartSession(r.Context(), user, app.SessionStart{
		Door: domain.DoorPage, Source: clientAddr(r), UserAgent: r.UserAgent(),
	})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if old := p.sessionToken(r); old != "" {
		_ = accounts.EndSession(r.Context(), old) // best effort: it expires anyway
	}
	zaplog.SetUserID(r.Context(), user.ID)
	p.startBrowserSession(w, token)
	redirect(w, r, returnTo)
}

// handleSignup creates an account and signs it in.
func handleSignup(p *pages, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(w, r) {
			return
		}
		returnTo := p.safeReturn(r.PostFormValue("return_to"))
		username, password := r.PostFormValue("username"), r.PostFormValue("password")
		profile := app.Profile{Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.TrimSpace(r.PostFormValue("email"))}
		var user domain.User
		var err error = domain.Errorf(domain.InvalidRequest, "the two passwords differ")
		if password == r.PostFormValue("confirm") {
			user, err = accounts.Signup(r.Context(), username, password, profile)
		}
		if err != nil {
			var pe *domain.Error
			if !errors.As(err, &pe) {
				p.fail(w, r, err)
				return
			}
			data := loginPage{pageData: p.data(w, r), ReturnTo: returnTo, Username: username, MinPassword: p.cfg.MinPassword,
				Name: profile.Name, Email: profile.Email}
			data.Error = pe.Description
			p.render(w, r, http.StatusBadRequest, "signup", data, p.returnTargets(r, returnTo)...)
			return
		}
		startSession(w, r, p, accounts, user, returnTo)
	})
}

// handleLogoutForm asks before signing out: a GET must not change state,
// or any page could sign the user out with an image tag.
func handleLogoutForm(p *pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "logout", p.data(w, r))
	})
}

// handleLogout ends the browser's session on the server, not only its
// cookie, so the cookie is worth nothing after even if it was copied. With
// everywhere set (the account page's "sign out everywhere") it ends every
// session of the user, in every browser.
func handleLogout(p *pages, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(w, r) {
			return
		}
		if r.PostFormValue("everywhere") != "" {
			sess, ok, err := p.session(r, accounts)
			if err == nil && ok {
				err = accounts.EndAllSessions(r.Context(), sess.UserID)
			}
			if err != nil {
				p.fail(w, r, err)
				return
			}
		}
		if c, err := r.Cookie(p.cookieName(sessionCookie)); err == nil {
			if err := accounts.EndSession(r.Context(), c.Value); err != nil {
				p.fail(w, r, err)
				return
			}
		}
		p.endBrowserSession(w)
		redirect(w, r, p.base+"/login")
	})
}

type grantRow struct {
	ClientID, ClientName string
	Scopes               []string
	Created, CreatedISO  string
	Updated              string
}

type sessionRow struct {
	ID                  string
	Created, CreatedISO string
	Expires, ExpiresISO string
	// Where it was opened: the address, and the browser or program.
	Source, UserAgent string
	// Door says how: on the login page, or through the accounts API.
	Door    string
	Current bool
}

type accountPage struct {
	pageData
	// Developer links to the developer pages.
	Developer bool
	Username  string
	// Email is the user's address, EmailSeenBy the apps that may learn
	// it (the email scope, with openid).
	Email       string
	EmailSeenBy []string
	Grants      []grantRow
	Sessions    []sessionRow
	// OlderSessions are not shown (see maxSessionRows).
	OlderSessions int
}

// maxSessionRows is how many sessions the account page lists.
const maxSessionRows = 20

// pageTime is how the pages show a time.
func pageTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 MST") }

// doorLabel says how a session was opened, for people.
func doorLabel(d domain.SessionDoor) string {
	if d == domain.DoorAPI {
		return "accounts API"
	}
	return "sign-in page"
}

// handleAccount lists the apps the user let in, each with a revoke button,
// and where the user is signed in, each with a sign-out button.
func handleAccount(p *pages, accounts Accounts, consents Consents) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.viewer(w, r, accounts, "/account")
		if !ok {
			return
		}
		var notice string
		switch q := r.URL.Query(); {
		case q.Get("revoked") != "":
			notice = "Access revoked. That app's tokens no longer work."
		case q.Get("ended") != "":
			notice = "Signed out there."
		}
		p.showAccount(w, r, accounts, consents, sess, http.StatusOK, notice, "")
	})
}

// showAccount renders the account page of sess's user, with a notice or
// an error.
func (p *pages) showAccount(w http.ResponseWriter, r *http.Request, accounts Accounts, consents Consents, sess domain.Session, status int, notice, problem string) {
	user, err := accounts.User(r.Context(), sess.UserID)
	if errors.Is(err, domain.ErrNotFound) {
		redirect(w, r, p.loginURL(p.base+"/account")) // closed meanwhile
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	list, err := consents.List(r.Context(), sess.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	sessions, err := accounts.UserSessions(r.Context(), sess.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	data := accountPage{pageData: p.data(w, r), Username: user.Username, Email: user.Email, Developer: p.cfg.Developer}
	data.Notice, data.Error = notice, problem
	// The newest few, and this browser's: a user signed in thousands
	// of times does not get a page of thousands of rows.
	if n := len(sessions) - maxSessionRows; n > 0 {
		data.OlderSessions = n
		sessions = slices.DeleteFunc(sessions, func(s domain.Session) bool {
			if n > 0 && s.Hash != sess.Hash {
				n--
				return true
			}
			return false
		})
	}
	for _, s := range sessions {
		data.Sessions = append(data.Sessions, sessionRow{
			ID:      s.ID(),
			Created: pageTime(s.CreatedAt), CreatedISO: s.CreatedAt.UTC().Format(time.RFC3339),
			Expires: pageTime(s.ExpiresAt), ExpiresISO: s.ExpiresAt.UTC().Format(time.RFC3339),
			Source: s.Source, UserAgent: s.UserAgent, Door: doorLabel(s.Door),
			Current: s.Hash == sess.Hash,
		})
	}
	for _, g := range list {
		row := grantRow{
			ClientID: g.Client.ID, ClientName: g.Client.Name, Scopes: g.Consent.Scope,
			Created: pageTime(g.Consent.CreatedAt), CreatedISO: g.Consent.CreatedAt.UTC().Format(time.RFC3339),
		}
		if g.Consent.UpdatedAt.Sub(g.Consent.CreatedAt) > time.Second {
			row.Updated = pageTime(g.Consent.UpdatedAt)
		}
		data.Grants = append(data.Grants, row)
		if g.Consent.ReleasesEmail() {
			data.EmailSeenBy = append(data.EmailSeenBy, row.ClientName)
		}
	}
	p.render(w, r, status, "account", data)
}

// signedIn returns the session of a form's browser, after its CSRF check;
// if there is none it answers (403, or off to the login page and back to
// page) and reports false.
func (p *pages) signedIn(w http.ResponseWriter, r *http.Request, accounts Accounts, page string) (domain.Session, bool) {
	if !p.checkCSRF(w, r) {
		return domain.Session{}, false
	}
	return p.viewer(w, r, accounts, page)
}

// viewer returns the session of the browser showing page (a path under
// the pages' base); if there is none it answers (an error page, or off to
// the login page and back to page) and reports false.
func (p *pages) viewer(w http.ResponseWriter, r *http.Request, accounts Accounts, page string) (domain.Session, bool) {
	sess, ok, err := p.session(r, accounts)
	if err != nil {
		p.fail(w, r, err)
		return domain.Session{}, false
	}
	if !ok {
		redirect(w, r, p.loginURL(p.base+page))
		return domain.Session{}, false
	}
	return sess, true
}

// handleEndSession signs the user out of one of their sessions, in
// another browser or a program; this browser's own is the logout button.
func handleEndSession(p *pages, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.signedIn(w, r, accounts, "/account")
		if !ok {
			return
		}
		id := r.PostFormValue("session_id")
		err := accounts.EndSessionByID(r.Context(), sess, id)
		switch {
		case errors.Is(err, app.ErrNoSuchSession):
			redirect(w, r, p.base+"/account") // ended already
		case err != nil:
			p.fail(w, r, err)
		case id == sess.ID():
			p.endBrowserSession(w)
			redirect(w, r, p.base+"/login")
		default:
			redirect(w, r, p.base+"/account?ended=1")
		}
	})
}

// handleCloseAccountPage closes the signed-in user's account once they have
// entered their password again, and signs the browser out.
func handleCloseAccountPage(p *pages, accounts Accounts, consents Consents) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.signedIn(w, r, accounts, "/account")
		if !ok {
			return
		}
		err := accounts.DeleteAccount(r.Context(), sess.UserID, r.PostFormValue("password"), sourceOf(r))
		var (
			fe *domain.FieldError
			th *domain.Throttled
		)
		switch {
		case errors.As(err, &fe):
			p.showAccount(w, r, accounts, consents, sess, status(fe.Err.Code), "", fe.Err.Description)
		case errors.As(err, &th):
			setRetryAfter(w, err)
			p.showAccount(w, r, accounts, consents, sess, http.StatusTooManyRequests, "", th.Description())
		case err != nil:
			p.fail(w, r, err)
		default:
			p.endBrowserSession(w)
			redirect(w, r, p.base+"/login?closed=1")
		}
	})
}

// handleRevokeGrant withdraws the user's grant to one client. A client id
// that is not one of the user's grants changes nothing.
func handleRevokeGrant(p *pages, accounts Accounts, consents Consents) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(w, r) {
			return
		}
		clientID := r.PostFormValue("client_id")
		if len(clientID) > app.MaxClientIDLength {
			p.fail(w, r, domain.Errorf(domain.InvalidRequest, "client_id is longer than any client's"))
			return
		}
		sess, ok := p.viewer(w, r, accounts, "/account")
		if !ok {
			return
		}
		err := consents.Revoke(r.Context(), sess.UserID, clientID)
		if errors.Is(err, app.ErrNoConsent) {
			redirect(w, r, p.base+"/account") // revoked already, or never granted
			return
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		redirect(w, r, p.base+"/account?revoked=1")
	})
}
