package httpapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3).
var authorizeParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}

// readAuthorize reads an authorization request from query or form values.
// A repeated parameter is an error (RFC 6749 §3.1); it is reported once the
// redirect target is known, unless it is client_id or redirect_uri itself.
func readAuthorize(v url.Values) (app.AuthorizeRequest, string) {
	repeated := ""
	for _, k := range authorizeParams {
		if len(v[k]) > 1 {
			repeated = k
		}
	}
	return app.AuthorizeRequest{
		ResponseType:        v.Get("response_type"),
		ClientID:            v.Get("client_id"),
		RedirectURI:         v.Get("redirect_uri"),
		Scope:               v.Get("scope"),
		State:               v.Get("state"),
		CodeChallenge:       v.Get("code_challenge"),
		CodeChallengeMethod: v.Get("code_challenge_method"),
	}, repeated
}

func authorizeValues(req app.AuthorizeRequest) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{
		"response_type": req.ResponseType, "client_id": req.ClientID, "redirect_uri": req.RedirectURI,
		"scope": req.Scope, "state": req.State, "code_challenge": req.CodeChallenge,
		"code_challenge_method": req.CodeChallengeMethod,
	} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

type hiddenField struct{ Name, Value string }

type consentPage struct {
	pageData
	ClientName string
	Username   string
	Scopes     []domain.ScopeInfo
	Hidden     []hiddenField
}

// handleAuthorize serves the authorization endpoint: GET is the request
// from the client, POST the user's answer on the consent page.
func handleAuthorize(p *pages, authz Authorizer, accounts Accounts, scopes ScopeLister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.URL.Query()
		if r.Method == http.MethodPost {
			if !p.checkCSRF(w, r) {
				return
			}
			values = r.PostForm
		}
		req, repeated := readAuthorize(values)
		if repeated == "client_id" || repeated == "redirect_uri" {
			p.fail(w, r, domain.Errorf(domain.InvalidRequest, "%s is repeated", repeated))
			return
		}
		auth, err := authz.Validate(r.Context(), req)
		if err == nil && repeated != "" {
			err = domain.Errorf(domain.InvalidRequest, "%s is repeated", repeated)
		}
		if err != nil {
			if auth.Redirect == "" || !isProtocolError(err) {
				// The client or its redirect URI is not to be trusted, or
				// the server failed: tell the user, never redirect.
				p.fail(w, r, err)
				return
			}
			redirectError(w, r, auth, authz.Issuer(), err)
			return
		}

		sess, ok, err := p.session(r, accounts)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if !ok {
			redirect(w, r, p.loginURL(p.base+"/authorize?"+authorizeValues(req).Encode()))
			return
		}

		if r.Method == http.MethodPost && r.PostFormValue("decision") != "allow" {
			redirectError(w, r, auth, authz.Issuer(), domain.Errorf(domain.AccessDenied, "the user denied the request"))
			return
		}
		if r.Method != http.MethodPost {
			// GET, or HEAD answered as GET: only the consent page's POST
			// is the user's answer; anything else asks first.
			need, err := authz.NeedsConsent(r.Context(), sess.UserID, auth)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			if need {
				showConsent(w, r, p, accounts, scopes, sess, auth)
				return
			}
		}
		params, err := authz.Approve(r.Context(), sess.UserID, auth)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		redirect(w, r, responseURL(auth, authz.Issuer(), params))
	})
}

func isProtocolError(err error) bool {
	var pe *domain.Error
	return errors.As(err, &pe)
}

func showConsent(w http.ResponseWriter, r *http.Request, p *pages, accounts Accounts, scopes ScopeLister, sess domain.Session, auth app.Authorization) {
	user, err := accounts.User(r.Context(), sess.UserID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	known, err := scopes.ListScopes(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	describe := map[string]string{}
	for _, s := range known {
		describe[s.Name] = s.Description
	}
	data := consentPage{pageData: p.data(w, r), ClientName: auth.Client.Name, Username: user.Username}
	if data.ClientName == "" {
		data.ClientName = auth.Client.ID
	}
	for _, s := range auth.Scope {
		d := describe[s]
		if d == "" {
			d = s
		}
		data.Scopes = append(data.Scopes, domain.ScopeInfo{Name: s, Description: d})
	}
	for k, vs := range authorizeValues(auth.Request) {
		data.Hidden = append(data.Hidden, hiddenField{Name: k, Value: vs[0]})
	}
	// The form's POST ends in a redirect to the client: form-action must
	// allow its origin (see render).
	var targets []string
	if src := cspSource(auth.Redirect); src != "" {
		targets = append(targets, src)
	}
	p.render(w, r, http.StatusOK, "consent", data, targets...)
}

// redirectError sends an error back to the client (RFC 6749 §4.1.2.1),
// with state and, against mix-up attacks, iss (RFC 9207).
func redirectError(w http.ResponseWriter, r *http.Request, auth app.Authorization, issuer string, err error) {
	var pe *domain.Error
	errors.As(err, &pe)
	params := [][2]string{{"error", string(pe.Code)}}
	if pe.Description != "" {
		params = append(params, [2]string{"error_description", pe.Description})
	}
	redirect(w, r, responseURL(auth, issuer, params))
}

// responseURL puts params, state and iss on the client's redirect URI: in
// the query for the code flow, keeping any query the URI was registered
// with (RFC 6749 §3.1.2), or in the fragment for the implicit grant.
func responseURL(auth app.Authorization, issuer string, params [][2]string) string {
	u, _ := url.Parse(auth.Redirect) // registered URIs are validated on load
	v := url.Values{}
	if !auth.Fragment {
		v = u.Query()
	}
	for _, kv := range params {
		v.Set(kv[0], kv[1])
	}
	if auth.Request.State != "" {
		v.Set("state", auth.Request.State)
	}
	v.Set("iss", issuer)
	if auth.Fragment {
		u.Fragment = ""
		u.RawFragment = ""
		return u.String() + "#" + v.Encode()
	}
	u.RawQuery = v.Encode()
	return u.String()
}
