package app

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// OpenID Connect Core 1.0 on the authorization endpoint: the parameters
// it adds to an authorization request, and the ports that sign and check
// ID tokens.

// IDTokenSigner signs ID tokens.
type IDTokenSigner interface {
	// SignIDToken returns t signed with the current key of alg.
	SignIDToken(ctx context.Context, alg string, t domain.IDToken) (string, error)
	// IDTokenAlgs lists the algorithms it holds keys for.
	IDTokenAlgs() []string
}

// IDTokenVerifier checks ID tokens this server issued, as an
// id_token_hint brings them back.
type IDTokenVerifier interface {
	// VerifyIDToken returns the claims of token if this server signed it
	// and it names this server as its issuer. Expiry is not judged: a
	// hint may rightly be an expired ID token (Core §3.1.2.1, RP-Initiated
	// Logout §2). An error matching domain.ErrUnavailable means it cannot
	// tell now.
	VerifyIDToken(ctx context.Context, token string) (domain.IDToken, error)
}

// Bounds on what an authorization request may carry, checked before
// anything is stored or looked up: a nonce is stored with the code, a hint
// is parsed and verified.
const (
	MaxNonceBytes       = 512
	MaxIDTokenHintBytes = 8 << 10
	MaxLoginHintBytes   = 256
	MaxUILocalesBytes   = 256
	// maxMaxAge bounds max_age at a hundred years: a longer one means the
	// same and might overflow a duration.
	maxMaxAge = 100 * 365 * 24 * 60 * 60
)

// Prompt is a request's prompt parameter (Core §3.1.2.1), read. Values
// this server does not know (select_account: a browser holds one
// account's session) are ignored, as the spec lets it.
type Prompt struct {
	// None: answer without showing any page, or with login_required or
	// consent_required.
	None bool
	// Login: the user signs in again even with a session.
	Login bool
	// Consent: the user is asked even when their consent covers the
	// request.
	Consent bool
}

// PromptValues are the prompt values this server acts on, for the
// discovery document.
var PromptValues = []string{"none", "login", "consent"}

func parsePrompt(s string) (Prompt, error) {
	var p Prompt
	if s == "" {
		return p, nil
	}
	values := strings.Split(s, " ")
	for _, v := range values {
		switch v {
		case "none":
			p.None = true
		case "login":
			p.Login = true
		case "consent":
			p.Consent = true
		}
	}
	if p.None && len(values) > 1 {
		return Prompt{}, domain.Errorf(domain.InvalidRequest, "prompt=none cannot be combined with other values")
	}
	return p, nil
}

// MaxAge is a request's max_age, read: the user must have signed in at
// most Seconds ago, or sign in again.
type MaxAge struct {
	Set     bool
	Seconds int64
}

// Exceeded reports whether a sign-in at signedIn is too old at now. Times
// compare in whole seconds, as auth_time carries them; max_age=0 is
// prompt=login (Core §3.1.2.1), exceeded by every sign-in.
func (m MaxAge) Exceeded(signedIn, now time.Time) bool {
	return m.Set && (m.Seconds == 0 || now.Unix()-signedIn.Unix() > m.Seconds)
}

func parseMaxAge(s string) (MaxAge, error) {
	if s == "" {
		return MaxAge{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(s, "+") {
		return MaxAge{}, domain.Errorf(domain.InvalidRequest, "max_age must be a number of seconds")
	}
	return MaxAge{Set: true, Seconds: min(n, maxMaxAge)}, nil
}

// checkOpenID checks what OpenID Connect adds to an authorization request,
// and reads prompt and max_age into auth. They apply whether or not the
// scope has openid: a plain OAuth client may use them too.
func (a *Authorizer) checkOpenID(auth *Authorization) error {
	req := auth.Request
	switch {
	case req.Request != "":
		return domain.Errorf(domain.RequestNotSupported, "request objects are not supported: send the parameters in the query")
	case req.RequestURI != "":
		return domain.Errorf(domain.RequestURINotSupported, "request_uri is not supported: send the parameters in the query")
	case req.Registration != "":
		return domain.Errorf(domain.RegistrationNotSupported, "the registration parameter is not supported")
	case req.Claims != "":
		// Core §5.5 has no error of its own; the discovery document says
		// claims_parameter_supported is false. Refused rather than
		// ignored, so a client that needs a claim learns at once that it
		// will not get it this way.
		return domain.Errorf(domain.InvalidRequest, "the claims parameter is not supported: ask for claims by scope")
	case len(req.Nonce) > MaxNonceBytes:
		return domain.Errorf(domain.InvalidRequest, "nonce is longer than %d bytes", MaxNonceBytes)
	case len(req.IDTokenHint) > MaxIDTokenHintBytes:
		return domain.Errorf(domain.InvalidRequest, "id_token_hint is longer than %d bytes", MaxIDTokenHintBytes)
	case len(req.LoginHint) > MaxLoginHintBytes:
		return domain.Errorf(domain.InvalidRequest, "login_hint is longer than %d bytes", MaxLoginHintBytes)
	case len(req.UILocales) > MaxUILocalesBytes:
		return domain.Errorf(domain.InvalidRequest, "ui_locales is longer than %d bytes", MaxUILocalesBytes)
	}
	if err := checkResponseMode(req.ResponseMode, auth.Fragment); err != nil {
		return err
	}
	var err error
	if auth.Prompt, err = parsePrompt(req.Prompt); err != nil {
		return err
	}
	if auth.MaxAge, err = parseMaxAge(req.MaxAge); err != nil {
		return err
	}
	if auth.Scope.Has(domain.ScopeOpenID) {
		if alg := auth.Client.IDTokenSigningAlg(); !a.minter.signsIDTokens(alg) {
			// A registration this server cannot honour: the client is
			// told, since only its operator can fix it.
			return domain.Errorf(domain.UnauthorizedClient, "this server cannot sign ID tokens with %s, the client's id_token_signed_response_alg", alg)
		}
	}
	return nil
}

// checkResponseMode accepts only the response type's default mode:
// query for a code, fragment for the implicit grant's token.
func checkResponseMode(mode string, fragment bool) error {
	switch {
	case mode == "":
		return nil
	case mode == "query" && !fragment, mode == "fragment" && fragment:
		return nil
	}
	return domain.Errorf(domain.InvalidRequest, "response_mode %q is not supported for this response type", mode)
}

// ResponseModes lists the response modes offered, for the metadata.
func (a *Authorizer) ResponseModes() []string {
	if a.policy.Implicit {
		return []string{"query", "fragment"}
	}
	return []string{"query"}
}

// afterLogin is the request the browser comes back with after a sign-in
// it was sent to: without what made that sign-in necessary (prompt=login,
// max_age, an id_token_hint naming someone else), so that it is not asked
// for again, in a loop. The user just signed in, which is what they asked
// for; auth_time in the ID token tells the client so.
func (r AuthorizeRequest) afterLogin() AuthorizeRequest {
	if r.Prompt != "" {
		r.Prompt = strings.Join(slices.DeleteFunc(strings.Split(r.Prompt, " "), func(v string) bool { return v == "login" }), " ")
	}
	r.MaxAge, r.IDTokenHint = "", ""
	return r
}

// hintedSubject is the subject of the request's id_token_hint, "" if it
// has none. A hint this server did not issue, or issued to another
// client, is an invalid request (Core §3.1.2.1: it must be a previously
// issued ID token).
func (a *Authorizer) hintedSubject(ctx context.Context, auth Authorization) (string, error) {
	if auth.Request.IDTokenHint == "" {
		return "", nil
	}
	if a.idTokens == nil {
		return "", domain.Errorf(domain.InvalidRequest, "id_token_hint is not one of this server's ID tokens")
	}
	t, err := a.idTokens.VerifyIDToken(ctx, auth.Request.IDTokenHint)
	switch {
	case err == nil:
	case errors.Is(err, domain.ErrUnavailable):
		return "", err
	default:
		return "", domain.Errorf(domain.InvalidRequest, "id_token_hint is not one of this server's ID tokens")
	}
	if !slices.Contains(t.Audience, auth.Client.ID) {
		return "", domain.Errorf(domain.InvalidRequest, "id_token_hint was issued to another client")
	}
	return t.Subject, nil
}
