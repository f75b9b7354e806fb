package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/pkg/zaplog"
)

// authorizeParams are the authorization request's parameters (RFC 6749
// §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1, OAuth 2.0 Multiple
// Response Types §2.1), each the field of app.AuthorizeRequest it is read
// into. Those not here (display, acr_values, claims_locales, ...) are
// ignored, as unknown parameters are (RFC 6749 §3.1).
var authorizeParams = []param[app.AuthorizeRequest]{
	{"response_type", func(r *app.AuthorizeRequest) *string { return &r.ResponseType }},
	{"client_id", func(r *app.AuthorizeRequest) *string { return &r.ClientID }},
	{"redirect_uri", func(r *app.AuthorizeRequest) *string { return &r.RedirectURI }},
	{"scope", func(r *app.AuthorizeRequest) *string { return &r.Scope }},
	{"state", func(r *app.AuthorizeRequest) *string { return &r.State }},
	{"code_challenge", func(r *app.AuthorizeRequest) *string { return &r.CodeChallenge }},
	{"code_challenge_method", func(r *app.AuthorizeRequest) *string { return &r.CodeChallengeMethod }},
	{"response_mode", func(r *app.AuthorizeRequest) *string { return &r.ResponseMode }},
	{"nonce", func(r *app.AuthorizeRequest) *string { return &r.Nonce }},
	{"prompt", func(r *app.AuthorizeRequest) *string { return &r.Prompt }},
	{"max_age", func(r *app.AuthorizeRequest) *string { return &r.MaxAge }},
	{"id_token_hint", func(r *app.AuthorizeRequest) *string { return &r.IDTokenHint }},
	{"login_hint", func(r *app.AuthorizeRequest) *string { return &r.LoginHint }},
	{"ui_locales", func(r *app.AuthorizeRequest) *string { return &r.UILocales }},
	{"claims", func(r *app.AuthorizeRequest) *string { return &r.Claims }},
	{"request", func(r *app.AuthorizeRequest) *string { return &r.Request }},
	{"request_uri", func(r *app.AuthorizeRequest) *string { return &r.RequestURI }},
	{"registration", func(r *app.AuthorizeRequest) *string { return &r.Registration }},
}

// readAuthorize reads an authorization request from query or form values.
// A repeated parameter is an error (RFC 6749 §3.1), which Validate reports.
func readAuthorize(v url.Values) app.AuthorizeRequest {
	return readParams(v, authorizeParams, func(r *app.AuthorizeRequest) *string { return &r.Repeated })
}

// authorizeValues is req as query or form values again: what the consent
// form carries, and where the login page sends the browser back to.
func authorizeValues(req app.AuthorizeRequest) url.Values {
	return paramValues(req, authorizeParams)
}

type hiddenField struct{ Name, Value string }

type consentPage struct {
	pageData
	ClientName string
	Username   string
	Scopes     []app.ConsentScope
	Hidden     []hiddenField
	// Unvetted clients are marked, with where the answer goes.
	Unvetted   bool
	RedirectTo string
}

// handleAuthorize serves the authorization endpoint: GET is the request
// from the client, POST the user's answer on the consent page.
// app.Authorizer.Decide decides; this renders its decision.
func handleAuthorize(p *pages, authz Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// GET, or HEAD answered as GET: only the consent page's POST is
		// the user's answer.
		values, answer := r.URL.Query(), app.NoAnswer
		if r.Method == http.MethodPost {
			if !p.checkCSRF(w, r) {
				return
			}
			values, answer = r.PostForm, app.Deny
			if r.PostFormValue("decision") == "allow" {
				answer = app.Allow
			}
		}
		d := authz.Decide(r.Context(), readAuthorize(values), p.sessionToken(r), answer)
		zaplog.SetUserID(r.Context(), d.UserID)
		switch d.Outcome {
		case app.ShowLogin:
			redirect(w, r, p.loginURLFor(p.base+"/authorize?"+authorizeValues(d.Auth.Request).Encode(), d.Reauthenticate, d.LoginHint))
		case app.ShowConsent:
			showConsent(w, r, p, d)
		case app.Redirect:
			redirect(w, r, responseURL(d.Response))
		default:
			p.fail(w, r, d.Err)
		}
	})
}

func showConsent(w http.ResponseWriter, r *http.Request, p *pages, d app.Decision) {
	data := consentPage{pageData: p.data(w, r), ClientName: d.Consent.ClientName, Username: d.Consent.Username, Scopes: d.Consent.Scopes,
		Unvetted: d.Consent.Unvetted, RedirectTo: d.Consent.RedirectTo}
	for k, vs := range authorizeValues(d.Auth.Request) {
		data.Hidden = append(data.Hidden, hiddenField{Name: k, Value: vs[0]})
	}
	// The form's POST ends in a redirect to the client: form-action must
	// allow its origin (see render).
	var targets []string
	if src := cspSource(d.Auth.Redirect); src != "" {
		targets = append(targets, src)
	}
	p.render(w, r, http.StatusOK, "consent", data, targets...)
}

// responseURL puts the response on the client's redirect URI: in the query
// for the code flow, keeping any query the URI was registered with (RFC
// 6749 §3.1.2), or in the fragment for the implicit grant.
func responseURL(resp app.Response) string {
	u, _ := url.Parse(resp.RedirectURI) // registered URIs are validated on load
	v := url.Values{}
	if !resp.Fragment {
		v = u.Query()
	}
	switch {
	case resp.Err != nil:
		v.Set("error", string(resp.Err.Code))
		if resp.Err.Description != "" {
			v.Set("error_description", resp.Err.Description)
		}
	case resp.Token != nil:
		// RFC 6749 §4.2.2: never a refresh token.
		v.Set("access_token", resp.Token.AccessToken)
		v.Set("token_type", resp.Token.TokenType)
		v.Set("expires_in", strconv.FormatInt(resp.Token.ExpiresIn, 10))
		v.Set("scope", resp.Token.Scope.String())
	default:
		v.Set("code", resp.Code)
	}
	if resp.State != "" {
		v.Set("state", resp.State)
	}
	v.Set("iss", resp.Issuer)
	if resp.Fragment {
		u.Fragment = ""
		u.RawFragment = ""
		return u.String() + "#" + v.Encode()
	}
	u.RawQuery = v.Encode()
	return u.String()
}
