package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Answer is the user's answer to the consent page.
type Answer int

const (
	// NoAnswer is a request from the client (a GET): nobody has been asked
	// yet.
	NoAnswer Answer = iota
	// Allow is the user allowing the request on the consent page.
	Allow
	// Deny is the user denying it, or sending the form without saying allow.
	Deny
)

// Outcome says what the authorization endpoint does with a request; the
// Decision's fields for that outcome are set.
type Outcome int

const (
	// ShowError shows Decision.Err on a page and never redirects: the
	// client or its redirect URI cannot be trusted (RFC 6749 §4.1.2.1), or
	// the server failed.
	ShowError Outcome = iota
	// ShowLogin sends the user to sign in and then back to the endpoint
	// with Decision.Auth.Request.
	ShowLogin
	// ShowConsent asks the user about Decision.Consent; the form carries
	// Decision.Auth.Request and its answer goes to Decision.Auth.Redirect.
	ShowConsent
	// Redirect sends the browser back to the client with
	// Decision.Response: a code, a token or an error.
	Redirect
)

// Decision is the authorization endpoint's answer to one request.
type Decision struct {
	Outcome Outcome
	// Err is what went wrong, for ShowError.
	Err error
	// Auth is the validated request, for every other outcome. For
	// ShowLogin, its Request is the one to come back with after signing
	// in (AuthorizeRequest.afterLogin).
	Auth Authorization
	// Reauthenticate, for ShowLogin: the browser has a session, but the
	// request wants the user to sign in again (prompt=login, max_age, an
	// id_token_hint naming someone else), so the login page must ask
	// even so.
	Reauthenticate bool
	// LoginHint, for ShowLogin, is the request's login_hint: the
	// username the login page may fill in.
	LoginHint string
	// Consent is what the consent page shows, for ShowConsent.
	Consent ConsentPrompt
	// Response goes to the client, for Redirect.
	Response Response
	// UserID is the signed-in user, if any: for logs.
	UserID string
}

// ConsentPrompt is what the user is asked: which client wants which
// scopes, each with its description.
type ConsentPrompt struct {
	// ClientName is the client's name, or its id if it has none.
	ClientName string
	Username   string
	Scopes     []ConsentScope
	// Unvetted says the client registered itself, or a user of this
	// server registered it: its name is its own claim, which nobody
	// running the server checked (RFC 7591 §5). RedirectTo is where the
	// answer goes, which the page then shows.
	Unvetted   bool
	RedirectTo string
}

// ConsentScope is one scope as the consent page shows it: what it allows,
// in words, and for the identity scopes what of the user's it would
// share.
type ConsentScope struct {
	Name        string
	Description string
	// Shares is what the client would learn of the user, "" if nothing
	// the page can name.
	Shares string
}

// identityScopes describe OpenID Connect's scopes when the server's
// scope list does not.
var identityScopes = map[string]string{
	domain.ScopeOpenID:  "Know who you are: your account's id on this server",
	domain.ScopeProfile: "See your name and username",
	domain.ScopeEmail:   "See your email address, and whether it is verified",
}

// shares is what scope would let a client learn of u, for the consent
// page.
func shares(scope string, u domain.User) string {
	switch scope {
	case domain.ScopeProfile:
		if u.Name != "" {
			return u.Name + " (" + u.Username + ")"
		}
		return u.Username
	case domain.ScopeEmail:
		switch {
		case u.Email == "":
			return "you have not given one"
		case u.EmailVerified:
			return u.Email + ", verified"
		}
		return u.Email + ", not verified"
	}
	return ""
}

// Response is an authorization response (RFC 6749 §4.1.2, §4.2.2; errors
// §4.1.2.1, §4.2.2.1) for the client's redirect URI, with the request's
// state and, against mix-up attacks, the issuer (RFC 9207). Exactly one of
// Code, Token and Err is set.
type Response struct {
	RedirectURI string
	// Fragment is true for the implicit grant, whose answer travels in the
	// URL fragment (RFC 6749 §4.2.2); otherwise the query carries it.
	Fragment bool
	State    string
	Issuer   string
	Code     string
	// Token is the implicit grant's access token; never a refresh token.
	Token *TokenResponse
	Err   *domain.Error
}

// SessionChecker tells whom a browser is signed in as.
type SessionChecker interface {
	// Session returns the active session behind a session token, or
	// ErrNoSession ("" has none).
	Session(ctx context.Context, token string) (domain.Session, error)
}

// ScopeLister lists the scopes the server knows, with their descriptions.
type ScopeLister interface {
	// ListScopes returns every known scope.
	ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
}

// UserLookup finds users by id.
type UserLookup interface {
	// FindUser returns the user with the given id, or domain.ErrNotFound.
	FindUser(ctx context.Context, id string) (domain.User, error)
}

// Decide answers one call of the authorization endpoint: req as sent, the
// browser's session token ("" if it has none), and the user's answer if
// this is the consent form coming back. In order: a request that fails
// validation is refused (on a page or at the client, see Validate); a
// browser nobody is signed in on, or whose sign-in the request will not
// take (prompt=login, max_age, an id_token_hint naming someone else), is
// sent to sign in; a denial goes back to the client as access_denied; a
// request not yet answered asks the user, unless their consent to the
// client covers the scopes and prompt does not ask for consent; otherwise
// the request is granted. With prompt=none, what would show a page goes
// back to the client as login_required or consent_required (OpenID
// Connect Core §3.1.2.6).
func (a *Authorizer) Decide(ctx context.Context, req AuthorizeRequest, sessionToken string, answer Answer) Decision {
	auth, err := a.Validate(ctx, req)
	if err != nil {
		return refuse(auth, a.policy.Issuer, err)
	}
	hinted, err := a.hintedSubject(ctx, auth)
	if err != nil {
		return refuse(auth, a.policy.Issuer, err)
	}
	sess, err := a.sessions.Session(ctx, sessionToken)
	if errors.Is(err, ErrNoSession) {
		return a.signIn(auth, false)
	}
	if err != nil {
		return Decision{Outcome: ShowError, Err: err}
	}
	if auth.Prompt.Login || auth.MaxAge.Exceeded(sess.CreatedAt, a.now()) || (hinted != "" && hinted != sess.UserID) {
		return a.signIn(auth, true)
	}
	d := a.decideFor(ctx, sess, auth, answer)
	d.UserID = sess.UserID
	return d
}

// signIn sends the browser to sign in, or with prompt=none tells the
// client it must let it (Core §3.1.2.6).
func (a *Authorizer) signIn(auth Authorization, again bool) Decision {
	if auth.Prompt.None {
		return refuse(auth, a.policy.Issuer, domain.Errorf(domain.LoginRequired, "the user must sign in"))
	}
	auth.Request = auth.Request.afterLogin()
	return Decision{Outcome: ShowLogin, Auth: auth, Reauthenticate: again, LoginHint: auth.Request.LoginHint}
}

// decideFor decides a valid request of a signed-in user.
func (a *Authorizer) decideFor(ctx context.Context, sess domain.Session, auth Authorization, answer Answer) Decision {
	if answer == Deny {
		return refuse(auth, a.policy.Issuer, domain.Errorf(domain.AccessDenied, "the user denied the request"))
	}
	if answer == NoAnswer {
		// Only the consent form's answer grants what was not consented to.
		need := auth.Prompt.Consent
		if !need {
			var err error
			if need, err = a.needsConsent(ctx, sess.UserID, auth); err != nil {
				return Decision{Outcome: ShowError, Err: err}
			}
		}
		if need && auth.Prompt.None {
			return refuse(auth, a.policy.Issuer, domain.Errorf(domain.ConsentRequired, "the user must be asked for consent"))
		}
		if need {
			prompt, err := a.prompt(ctx, sess.UserID, auth)
			if err != nil {
				return Decision{Outcome: ShowError, Err: err}
			}
			return Decision{Outcome: ShowConsent, Auth: auth, Consent: prompt}
		}
	}
	resp, err := a.approve(ctx, sess, auth)
	if err != nil {
		return Decision{Outcome: ShowError, Err: err}
	}
	return Decision{Outcome: Redirect, Auth: auth, Response: resp}
}

// refuse answers a request with err: at the client when auth has a
// trusted redirect URI and err is a protocol error, else on a page.
func refuse(auth Authorization, issuer string, err error) Decision {
	var pe *domain.Error
	if auth.Redirect == "" || !errors.As(err, &pe) {
		return Decision{Outcome: ShowError, Err: err}
	}
	resp := auth.response(issuer)
	resp.Err = pe
	return Decision{Outcome: Redirect, Auth: auth, Response: resp}
}

// response is the start of every response to auth: where it goes, and
// how.
func (auth Authorization) response(issuer string) Response {
	return Response{RedirectURI: auth.Redirect, Fragment: auth.Fragment, State: auth.Request.State, Issuer: issuer}
}

// prompt is what the consent page shows the user about auth.
func (a *Authorizer) prompt(ctx context.Context, userID string, auth Authorization) (ConsentPrompt, error) {
	user, err := a.users.FindUser(ctx, userID)
	if err != nil {
		return ConsentPrompt{}, err
	}
	known, err := a.scopes.ListScopes(ctx)
	if err != nil {
		return ConsentPrompt{}, err
	}
	describe := make(map[string]string, len(known))
	for _, s := range known {
		describe[s.Name] = s.Description
	}
	p := ConsentPrompt{ClientName: auth.Client.Name, Username: user.Username}
	if auth.Client.ManagedBy == domain.ManagedByRegistration {
		p.Unvetted, p.RedirectTo = true, auth.Redirect
	}
	if p.ClientName == "" {
		p.ClientName = auth.Client.ID
	}
	for _, s := range auth.Scope {
		d := describe[s]
		if d == "" {
			d = identityScopes[s]
		}
		if d == "" {
			d = s
		}
		p.Scopes = append(p.Scopes, ConsentScope{Name: s, Description: d, Shares: shares(s, user)})
	}
	return p, nil
}
