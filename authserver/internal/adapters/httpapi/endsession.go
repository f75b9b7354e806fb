package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// RP-Initiated Logout 1.0: a client that signed its user out sends the
// browser to the end_session endpoint, which asks the user whether to
// sign out here too, and then sends the browser back to a registered
// post-logout URI, or shows that they are signed out.

// Logouts validates RP-Initiated Logout requests.
type Logouts interface {
	// ValidateEndSession checks a logout request; an error is shown on a
	// page, never redirected.
	ValidateEndSession(ctx context.Context, req app.EndSessionRequest) (app.EndSession, error)
}

// endSessionParams are the parameters of a logout request (§2), each the
// field of app.EndSessionRequest it is read into.
var endSessionParams = []param[app.EndSessionRequest]{
	{"id_token_hint", func(r *app.EndSessionRequest) *string { return &r.IDTokenHint }},
	{"client_id", func(r *app.EndSessionRequest) *string { return &r.ClientID }},
	{"post_logout_redirect_uri", func(r *app.EndSessionRequest) *string { return &r.PostLogoutRedirectURI }},
	{"state", func(r *app.EndSessionRequest) *string { return &r.State }},
	{"logout_hint", func(r *app.EndSessionRequest) *string { return &r.LogoutHint }},
	{"ui_locales", func(r *app.EndSessionRequest) *string { return &r.UILocales }},
}

func readEndSession(v url.Values) app.EndSessionRequest {
	return readParams(v, endSessionParams, func(r *app.EndSessionRequest) *string { return &r.Repeated })
}

func endSessionValues(req app.EndSessionRequest) url.Values {
	return paramValues(req, endSessionParams)
}

type endSessionPage struct {
	pageData
	ClientName string
	Username   string
	// OtherUser: the ID token the client sent names another user than
	// the one signed in here.
	OtherUser bool
	SignedOut bool
	Hidden    []hiddenField
}

// handleRPLogout serves the end_session endpoint. It must take a POST
// from the client's page, another origin, so it stands outside the
// pages' cross-origin wall; it changes nothing, whatever the method: a
// POST is sent on as a GET of the same request (303), which carries the
// browser's SameSite=Lax session cookie where a cross-site POST does
// not. The GET asks the user, if someone is signed in; a browser with no
// session goes straight on to the post-logout URI.
func handleRPLogout(p *pages, logouts Logouts, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				p.fail(w, r, domain.Errorf(domain.InvalidRequest, "the form cannot be read"))
				return
			}
			redirect(w, r, p.base+"/end_session?"+r.PostForm.Encode())
			return
		}
		es, err := logouts.ValidateEndSession(r.Context(), readEndSession(r.URL.Query()))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		sess, ok, err := p.session(r, accounts)
		switch {
		case err != nil:
			p.fail(w, r, err)
			return
		case !ok:
			signedOut(w, r, p, es)
			return
		}
		user, err := accounts.User(r.Context(), sess.UserID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			p.fail(w, r, err)
			return
		}
		data := endSessionPage{pageData: p.data(w, r), ClientName: es.ClientName(), Username: user.Username,
			OtherUser: es.Subject != "" && es.Subject != sess.UserID}
		for k, vs := range endSessionValues(es.Request) {
			data.Hidden = append(data.Hidden, hiddenField{Name: k, Value: vs[0]})
		}
		// Both answers end in a redirect to the client: form-action must
		// allow its origin.
		var targets []string
		if src := cspSource(es.Redirect); src != "" {
			targets = append(targets, src)
		}
		p.render(w, r, http.StatusOK, "endsession", data, targets...)
	})
}

// handleRPLogoutConfirm takes the user's answer: sign out here (the
// session ends on the server, as the logout page's does) or stay, then on
// to the client's post-logout URI either way, since the client has
// signed the user out already.
func handleRPLogoutConfirm(p *pages, logouts Logouts, accounts Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(w, r) {
			return
		}
		es, err := logouts.ValidateEndSession(r.Context(), readEndSession(r.PostForm))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if r.PostFormValue("decision") != "logout" {
			to := p.base + "/account"
			if es.Redirect != "" {
				to = postLogoutURL(es)
			}
			redirect(w, r, to)
			return
		}
		if token := p.sessionToken(r); token != "" {
			if err := accounts.EndSession(r.Context(), token); err != nil {
				p.fail(w, r, err)
				return
			}
		}
		p.endBrowserSession(w)
		if es.Redirect != "" {
			redirect(w, r, postLogoutURL(es))
			return
		}
		// A POST answers with a redirect (RFC 9700 §4.12); the request
		// without a session shows the signed-out page.
		redirect(w, r, p.base+"/end_session?"+url.Values{"client_id": {es.Client.ID}}.Encode())
	})
}

// signedOut sends the browser to the client's post-logout URI with the
// request's state, or shows that it is signed out.
func signedOut(w http.ResponseWriter, r *http.Request, p *pages, es app.EndSession) {
	if es.Redirect != "" {
		redirect(w, r, postLogoutURL(es))
		return
	}
	p.render(w, r, http.StatusOK, "endsession", endSessionPage{pageData: p.data(w, r), ClientName: es.ClientName(), SignedOut: true})
}

// postLogoutURL is the registered post-logout URI with the request's
// state added to any query it was registered with (§3).
func postLogoutURL(es app.EndSession) string {
	u, _ := url.Parse(es.Redirect) // registered URIs are validated on load
	if es.Request.State != "" {
		q := u.Query()
		q.Set("state", es.Request.State)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
