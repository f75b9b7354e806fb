package authclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var (
	_ app.Authorizer   = (*CodeClient)(nil)
	_ app.TokenRenewer = (*CodeClient)(nil)
	_ app.TokenRevoker = (*CodeClient)(nil)
)

// CodeConfig describes the webapp's browser client at the authorization
// server.
type CodeConfig struct {
	AuthorizeURL string
	TokenURL     string
	RevokeURL    string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// EndSessionURL is the authorization server's end_session endpoint
	// (RP-Initiated Logout), where the browser goes to sign out there
	// too, and PostLogoutRedirectURL where it comes back to, registered
	// at the server. An empty EndSessionURL signs out of the webapp only.
	EndSessionURL         string
	PostLogoutRedirectURL string
}

// CodeClient signs browser users in with the authorization code grant and
// keeps their tokens fresh. It authenticates as a confidential client with
// client_secret_basic. It is safe for concurrent use.
type CodeClient struct {
	conf       *oauth2.Config
	revokeURL  string
	endSession string
	postLogout string
	http       *http.Client
}

// NewCodeClient returns a CodeClient that makes its calls with hc, whose
// timeout bounds every call.
func NewCodeClient(cfg CodeConfig, hc *http.Client) *CodeClient {
	return &CodeClient{
		conf: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			// client_secret_basic, fixed: auto-detection would retry every
			// refused request with the secret in the body.
			Endpoint:    oauth2.Endpoint{AuthURL: cfg.AuthorizeURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
			RedirectURL: cfg.RedirectURL,
			Scopes:      cfg.Scopes,
		},
		revokeURL:  cfg.RevokeURL,
		endSession: cfg.EndSessionURL,
		postLogout: cfg.PostLogoutRedirectURL,
		http:       hc,
	}
}

// NewVerifier returns a PKCE code verifier of 32 random octets (RFC 7636
// §4.1).
func (c *CodeClient) NewVerifier() domain.Secret { return domain.Secret(oauth2.GenerateVerifier()) }

// AuthCodeURL is the authorization request (RFC 6749 §4.1.1, OpenID
// Connect Core §3.1.2.1): response_type=code, client_id, redirect_uri,
// scope, state, nonce, and the S256 code_challenge of verifier.
func (c *CodeClient) AuthCodeURL(state, verifier, nonce domain.Secret) string {
	return c.conf.AuthCodeURL(string(state), oauth2.S256ChallengeOption(string(verifier)), oidc.Nonce(string(nonce)))
}

// EndSessionURL is the RP-Initiated Logout request (§2): the end_session
// endpoint with id_token_hint, client_id and post_logout_redirect_uri.
func (c *CodeClient) EndSessionURL(idToken domain.Secret) string {
	if c.endSession == "" {
		return ""
	}
	u, err := url.Parse(c.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("id_token_hint", string(idToken))
	q.Set("client_id", c.conf.ClientID)
	if c.postLogout != "" {
		q.Set("post_logout_redirect_uri", c.postLogout)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Exchange redeems code (RFC 6749 §4.1.3) with the PKCE verifier.
func (c *CodeClient) Exchange(ctx context.Context, code, verifier domain.Secret) (domain.Tokens, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.conf.Exchange(ctx, string(code), oauth2.VerifierOption(string(verifier)))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			// The code expired, was used already, or the verifier or
			// redirect URI do not match: in every case, sign in again.
			return domain.Tokens{}, &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer,
				Description: "the authserver did not accept the sign-in code (it may have expired); sign in again",
				Err:         retrieveCause(re)}
		}
		return domain.Tokens{}, classifyCode(ctx, err, "code exchange")
	}
	return tokensOf(tok)
}

// Fresh returns t while its access token is valid (x/oauth2 counts it
// expired 10 s early, so it is not sent just as it lapses), else refreshes
// it (RFC 6749 §6). The authserver rotates refresh tokens: the tokens
// returned carry the new one, and the caller must keep them.
func (c *CodeClient) Fresh(ctx context.Context, t domain.Tokens) (domain.Tokens, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	in := &oauth2.Token{AccessToken: string(t.AccessToken), RefreshToken: string(t.RefreshToken), TokenType: t.TokenType, Expiry: t.Expiry}
	if in.Valid() {
		return t, nil
	}
	idToken := t.IDToken
	if t.RefreshToken == "" {
		return domain.Tokens{}, &domain.Error{Code: domain.SessionEnded, Service: domain.AuthServer,
			Description: "the access token expired and there is no refresh token"}
	}
	tok, err := c.conf.TokenSource(ctx, in).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return domain.Tokens{}, &domain.Error{Code: domain.SessionEnded, Service: domain.AuthServer,
				Description: "the authserver no longer accepts the refresh token (the grant was revoked or expired)",
				Err:         retrieveCause(re)}
		}
		return domain.Tokens{}, classifyCode(ctx, err, "refresh")
	}
	fresh, err := tokensOf(tok)
	if err != nil {
		return domain.Tokens{}, err
	}
	if fresh.IDToken == "" {
		// A refresh need not bring an ID token (Core §12.2): the one of
		// the sign-in still names the user at sign-out.
		fresh.IDToken = idToken
	}
	return fresh, nil
}

// Revoke revokes a refresh token (RFC 7009 §2.1), which at the authserver
// ends the grant it belongs to.
func (c *CodeClient) Revoke(ctx context.Context, refreshToken domain.Secret) error {
	form := url.Values{"token": {string(refreshToken)}, "token_type_hint": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.revokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revocation request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: id and secret are form-urlencoded before they go
	// into the Basic header, as x/oauth2 does for the token endpoint.
	req.SetBasicAuth(url.QueryEscape(c.conf.ClientID), url.QueryEscape(c.conf.ClientSecret))
	resp, err := c.http.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return unavailable(fmt.Sprintf("the authserver is unavailable (status %d)", resp.StatusCode), nil)
	}
	return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
		Description: fmt.Sprintf("the authserver answered the revocation with status %d", resp.StatusCode)}
}

// tokensOf checks a token response and turns it into the domain's tokens.
func tokensOf(tok *oauth2.Token) (domain.Tokens, error) {
	if typ := tok.TokenType; typ != "" && !strings.EqualFold(typ, "Bearer") {
		return domain.Tokens{}, &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: "the authserver issued a token of type " + quote(typ) + ", not a bearer token"}
	}
	idToken, _ := tok.Extra("id_token").(string)
	return domain.Tokens{
		AccessToken:  domain.Secret(tok.AccessToken),
		RefreshToken: domain.Secret(tok.RefreshToken),
		TokenType:    tok.TokenType,
		Expiry:       tok.Expiry,
		IDToken:      domain.Secret(idToken),
	}, nil
}

// classifyCode maps a failed code exchange or refresh other than
// invalid_grant: transport failures as for the password grant, error
// answers by their status and code.
func classifyCode(ctx context.Context, err error, what string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return classify(ctx, err)
	}
	status := statusOf(re)
	switch {
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests, re.ErrorCode == "temporarily_unavailable":
		return unavailable(fmt.Sprintf("the authserver is unavailable (status %d)", status), retrieveCause(re))
	case re.ErrorCode == "invalid_client":
		return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: fmt.Sprintf("the authserver refused the webapp's client credentials (status %d, invalid_client)", status), Err: retrieveCause(re)}
	}
	desc := fmt.Sprintf("the authserver answered the %s with status %d", what, status)
	if re.ErrorCode != "" && safeCode(re.ErrorCode) {
		desc += " (" + re.ErrorCode + ")"
	}
	return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: desc, Err: retrieveCause(re)}
}

func statusOf(re *oauth2.RetrieveError) int {
	if re.Response == nil {
		return 0
	}
	return re.Response.StatusCode
}

// retrieveCause is re without the raw body that re.Error() would print.
func retrieveCause(re *oauth2.RetrieveError) error {
	return fmt.Errorf("token endpoint answered status %d, error %s: %s", statusOf(re), quote(re.ErrorCode), clip(re.ErrorDescription))
}

// safeCode reports whether an error code is a short token that can go into
// a description shown to the user as it is.
func safeCode(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
