package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// AuthorizeRequest is an authorization request as sent (RFC 6749 §4.1.1 and
// §4.2.1, RFC 7636 §4.3), parameters each at most once.
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string // "" when left out
	Scope               string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	// ResponseMode is OAuth 2.0 Multiple Response Types' response_mode;
	// only each response type's default is offered.
	ResponseMode string
	// OpenID Connect Core §3.1.2.1 (see oidc.go): MaxAge is as sent, ""
	// when left out.
	Nonce       string
	Prompt      string
	MaxAge      string
	IDTokenHint string
	LoginHint   string
	UILocales   string
	// Parameters this server does not implement (Core §5.5, §6, §7.2.1),
	// kept only to refuse them: "" when left out.
	Claims, Request, RequestURI, Registration string
	// Repeated names a parameter that came more than once (RFC 6749 §3.1),
	// "" if none did. Only the first value of each is kept above.
	Repeated string
}

// Authorization is a request that passed validation: who asks, for what, and
// where the answer goes.
type Authorization struct {
	Request  AuthorizeRequest
	Client   domain.Client
	Redirect string // the registered redirect URI the answer goes to
	Scope    domain.Scope
	// Fragment is true for the implicit grant, whose answer travels in the
	// URL fragment (RFC 6749 §4.2.2).
	Fragment bool
	// Prompt and MaxAge are the request's OpenID Connect prompt and
	// max_age, read (see oidc.go).
	Prompt Prompt
	MaxAge MaxAge
}

// AuthorizationPolicy is the server-wide part of the browser flows.
type AuthorizationPolicy struct {
	Issuer   string
	CodeTTL  time.Duration
	Implicit bool // whether the server offers response_type=token at all
}

// Authorizer runs the authorization endpoint's decisions (Decide).
type Authorizer struct {
	clients  ClientFinder
	scopes   ScopeLister
	users    UserLookup
	sessions SessionChecker
	consents ConsentStore
	codes    CodeStore
	minter   *Minter
	idTokens IDTokenVerifier
	policy   AuthorizationPolicy
	now      Clock
	audit    auditor
}

// AuthorizerDeps are what an Authorizer needs.
type AuthorizerDeps struct {
	Clients  ClientFinder
	Scopes   ScopeLister
	Users    UserLookup
	Sessions SessionChecker
	Consents ConsentStore
	Codes    CodeStore
	Minter   *Minter
	// IDTokens checks id_token_hint; nil refuses every hint.
	IDTokens IDTokenVerifier
	Policy   AuthorizationPolicy
	// Audit may be nil.
	Audit AuditLog
	Now   Clock
}

// NewAuthorizer returns an Authorizer.
func NewAuthorizer(d AuthorizerDeps) *Authorizer {
	return &Authorizer{
		clients: d.Clients, scopes: d.Scopes, users: d.Users, sessions: d.Sessions, consents: d.Consents, codes: d.Codes,
		minter: d.Minter, idTokens: d.IDTokens, policy: d.Policy, now: d.Now, audit: auditor{log: d.Audit, now: d.Now},
	}
}

// ResponseTypes lists the response types offered, for the metadata document.
func (a *Authorizer) ResponseTypes() []string {
	if a.policy.Implicit {
		return []string{"code", "token"}
	}
	return []string{"code"}
}

// Validate checks an authorization request. If the returned Authorization
// has no Redirect, the client or its redirect URI could not be trusted and
// the error must be shown to the user, never redirected (RFC 6749 §4.1.2.1):
// redirecting there would make this server an open redirector. With a
// Redirect, any error goes back to the client.
func (a *Authorizer) Validate(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	auth := Authorization{Request: req}
	c, redirect, err := a.target(ctx, req)
	if err != nil {
		return auth, err
	}
	auth.Client, auth.Redirect = c, redirect
	auth.Fragment = req.ResponseType == "token"
	if err := a.checkResponseType(c, req); err != nil {
		return auth, err
	}
	requested, err := domain.ParseScope(req.Scope)
	if err != nil {
		return auth, err
	}
	if auth.Scope, err = c.GrantScope(requested); err != nil {
		return auth, err
	}
	if req.Repeated != "" {
		return auth, domain.Errorf(domain.InvalidRequest, "%s is repeated", req.Repeated)
	}
	if err := a.checkOpenID(&auth); err != nil {
		return auth, err
	}
	return auth, nil
}

// target finds the client and the redirect URI its answer goes to: the
// part of the request that must hold before any error may go there.
func (a *Authorizer) target(ctx context.Context, req AuthorizeRequest) (domain.Client, string, error) {
	if req.Repeated == "client_id" || req.Repeated == "redirect_uri" {
		// Which of the values is meant cannot be told, so neither is
		// trusted as the place to send the error.
		return domain.Client{}, "", domain.Errorf(domain.InvalidRequest, "%s is repeated", req.Repeated)
	}
	if req.ClientID == "" {
		return domain.Client{}, "", domain.Errorf(domain.InvalidRequest, "client_id is required")
	}
	c, err := a.clients.FindClient(ctx, req.ClientID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Client{}, "", domain.Errorf(domain.InvalidRequest, "unknown client")
	}
	if err != nil {
		return domain.Client{}, "", err
	}
	switch {
	case req.RedirectURI != "" && !c.HasRedirectURI(req.RedirectURI):
		return domain.Client{}, "", domain.Errorf(domain.InvalidRequest, "redirect_uri is not registered for this client")
	case req.RedirectURI == "" && len(c.RedirectURIs) != 1:
		// RFC 6749 §3.1.2.3: it may be left out only if exactly one is
		// registered, so there is no doubt where the answer goes.
		return domain.Client{}, "", domain.Errorf(domain.InvalidRequest, "redirect_uri is required")
	case req.RedirectURI == "":
		return c, c.RedirectURIs[0], nil
	}
	return c, req.RedirectURI, nil
}

// checkResponseType checks that the server offers the response type and
// the client may use it (RFC 6749 §3.1.1).
func (a *Authorizer) checkResponseType(c domain.Client, req AuthorizeRequest) error {
	switch req.ResponseType {
	case "":
		return domain.Errorf(domain.InvalidRequest, "response_type is required")
	case "code":
		if !c.AllowsGrant(domain.GrantAuthorizationCode) {
			return domain.Errorf(domain.UnauthorizedClient, "this client may not use the authorization code grant")
		}
		return checkChallenge(c, req)
	case "token":
		if !a.policy.Implicit {
			return domain.Errorf(domain.UnsupportedResponseType, "the implicit grant is not offered")
		}
		if !c.AllowsGrant(domain.GrantImplicit) {
			return domain.Errorf(domain.UnauthorizedClient, "this client may not use the implicit grant")
		}
		return nil
	}
	return domain.Errorf(domain.UnsupportedResponseType, "response_type %q is not supported", req.ResponseType)
}

// checkChallenge applies RFC 7636 and RFC 9700 §2.1.1: S256 always works,
// plain only for clients allowed it, and no challenge only for confidential
// clients that opted out.
func checkChallenge(c domain.Client, req AuthorizeRequest) error {
	if req.CodeChallenge == "" {
		if req.CodeChallengeMethod != "" {
			return domain.Errorf(domain.InvalidRequest, "code_challenge_method without code_challenge")
		}
		if c.RequiresPKCE() {
			return domain.Errorf(domain.InvalidRequest, "code_challenge is required (PKCE, method S256)")
		}
		return nil
	}
	if !validVerifierSyntax(req.CodeChallenge) {
		return domain.Errorf(domain.InvalidRequest, "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]")
	}
	switch req.CodeChallengeMethod {
	case domain.PKCES256:
		return nil
	case "", domain.PKCEPlain: // RFC 7636 §4.3: absent means plain
		if !c.AllowPlainPKCE {
			return domain.Errorf(domain.InvalidRequest, "code_challenge_method must be S256")
		}
		return nil
	}
	return domain.Errorf(domain.InvalidRequest, "code_challenge_method %q is not supported", req.CodeChallengeMethod)
}

// validVerifierSyntax is RFC 7636 §4.1's 43*128unreserved, which the
// challenge shares.
func validVerifierSyntax(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// needsConsent reports whether the user must be asked: consent is
// remembered per user and client, for the scopes given.
func (a *Authorizer) needsConsent(ctx context.Context, userID string, auth Authorization) (bool, error) {
	c, err := a.consents.FindConsent(ctx, userID, auth.Client.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !c.Scope.Covers(auth.Scope), nil
}

// approve records the user's consent and answers the request: a code, or
// for the implicit grant a token. An OpenID Connect code also keeps the
// nonce and the session's sign-in, for its ID token.
func (a *Authorizer) approve(ctx context.Context, sess domain.Session, auth Authorization) (Response, error) {
	userID := sess.UserID
	if err := a.remember(ctx, userID, auth); err != nil {
		return Response{}, err
	}
	resp := auth.response(a.policy.Issuer)
	if auth.Fragment {
		tok, err := a.minter.Mint(ctx, Issuance{Client: auth.Client, UserID: userID, Scope: auth.Scope})
		if err != nil {
			return Response{}, err
		}
		resp.Token = &tok
		return resp, nil
	}
	now := a.now()
	code := newOpaqueToken()
	var (
		signIn domain.SignIn
		nonce  string
	)
	if auth.Scope.Has(domain.ScopeOpenID) {
		signIn, nonce = domain.SignInOf(sess), auth.Request.Nonce
	}
	err := a.codes.CreateCode(ctx, domain.AuthorizationCode{
		Hash:            HashToken(code),
		ClientID:        auth.Client.ID,
		UserID:          userID,
		RedirectURI:     auth.Request.RedirectURI,
		Scope:           auth.Scope,
		Challenge:       auth.Request.CodeChallenge,
		ChallengeMethod: challengeMethod(auth.Request),
		FamilyID:        newID(),
		IssuedAt:        now,
		ExpiresAt:       now.Add(a.policy.CodeTTL),
		Nonce:           nonce,
		SignIn:          signIn,
	})
	if err != nil {
		return Response{}, err
	}
	resp.Code = code
	return resp, nil
}

func challengeMethod(req AuthorizeRequest) string {
	switch {
	case req.CodeChallenge == "":
		return ""
	case req.CodeChallengeMethod == "":
		return domain.PKCEPlain
	}
	return req.CodeChallengeMethod
}

// remember saves the consent, widened by what was granted before.
func (a *Authorizer) remember(ctx context.Context, userID string, auth Authorization) error {
	now := a.now()
	c, err := a.consents.FindConsent(ctx, userID, auth.Client.ID)
	switch {
	case err == nil:
		if c.Scope.Covers(auth.Scope) {
			return nil
		}
	case errors.Is(err, domain.ErrNotFound):
		c = domain.Consent{UserID: userID, ClientID: auth.Client.ID, CreatedAt: now}
	default:
		return err
	}
	c.Scope = domain.NewScope(append(append([]string{}, c.Scope...), auth.Scope...)...)
	c.UpdatedAt = now
	err = a.consents.SaveConsent(ctx, c)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditConsentGiven, ClientID: c.ClientID, UserID: userID}, err, c.Scope.String()))
	return err
}

// verifyPKCE checks a code_verifier against the code's challenge (RFC 7636
// §4.6), in constant time.
func verifyPKCE(c domain.AuthorizationCode, verifier string) bool {
	if !validVerifierSyntax(verifier) {
		return false
	}
	want := verifier
	if c.ChallengeMethod == domain.PKCES256 {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(c.Challenge)) == 1
}
