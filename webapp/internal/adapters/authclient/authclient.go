// Package authclient is the webapp's client side of the authorization
// server, using golang.org/x/oauth2: the password grant (RFC 6749 §4.3) for
// the curl flow (Client), and for the browser the authorization code grant
// with PKCE (RFC 6749 §4.1, RFC 7636), refresh (§6) and revocation (RFC 7009)
// (CodeClient). It turns every way that can fail into a domain error naming
// the authserver.
package authclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.TokenSource = (*Client)(nil)

// Config says where the token endpoint is and how the webapp authenticates
// to it as a client.
type Config struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
}

// Client requests tokens. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client that makes its calls with hc, whose timeout bounds
// every call, forwarding the address of the caller each call is made for
// (see forwardFor).
func New(cfg Config, hc *http.Client) *Client {
	return &Client{cfg: cfg, http: forwarding(hc)}
}

// Token asks for a token for creds with exactly scope ("" asks for the
// client's default scopes).
func (c *Client) Token(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error) {
	// A fresh Config per call, because the scope is per call; the struct is
	// cheap and must not be copied (it holds an internal cache).
	conf := &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		// client_secret_basic, chosen up front: left to auto-detect, x/oauth2
		// would retry a failed request with the secret in the form body,
		// doubling every failed login and hiding misconfiguration.
		Endpoint: oauth2.Endpoint{TokenURL: c.cfg.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
	if scope != "" {
		conf.Scopes = []string{scope}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := conf.PasswordCredentialsToken(ctx, creds.Username, string(creds.Password))
	if err != nil {
		return "", classify(ctx, err)
	}
	// The token is about to be sent as a bearer token (RFC 6750); any other
	// type would be refused by the resource server, blaming the wrong
	// service. An absent type is taken as Bearer, as x/oauth2 does.
	if typ := tok.TokenType; typ != "" && !strings.EqualFold(typ, "Bearer") {
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: "the authserver issued a token of type " + quote(typ) + ", not a bearer token"}
	}
	return domain.Secret(tok.AccessToken), nil
}

// classify maps what x/oauth2 returned to a domain error. The causes kept for
// the logs are rebuilt here rather than taken from x/oauth2: its
// RetrieveError prints the raw response body.
func classify(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fromResponse(re)
	}
	var ue *url.Error
	switch {
	case errors.As(err, &ue) && ue.Timeout():
		return unavailable("the authserver did not answer in time", ue)
	case errors.As(err, &ue), ctx.Err() != nil:
		return unavailable("the authserver cannot be reached", err)
	case strings.HasPrefix(err.Error(), "oauth2: cannot fetch token:"):
		// The body broke off or timed out mid-read. x/oauth2 (v0.37.0)
		// formats that error with %v, so its type is lost and only the
		// prefix tells it apart from a parse failure; a transport failure is
		// worth a retry, a parse failure is not.
		return unavailable("the authserver's answer broke off", err)
	}
	return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
		Description: "the authserver's token response could not be read", Err: err}
}

// fromResponse maps an error answer of the token endpoint (RFC 6749 §5.2).
func fromResponse(re *oauth2.RetrieveError) error {
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	cause := fmt.Errorf("token endpoint answered status %d, error %s: %s", status, quote(re.ErrorCode), clip(re.ErrorDescription))
	switch {
	case re.ErrorCode == "invalid_grant":
		// The user's username or password is wrong (or the account is
		// locked for now). The authserver's description is its own wording
		// for the user, so it is passed on.
		desc := clip(re.ErrorDescription)
		if desc == "" {
			desc = "wrong username or password"
		}
		return &domain.Error{Code: domain.InvalidCredentials, Service: domain.AuthServer, Description: desc, Err: cause}
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests,
		re.ErrorCode == "temporarily_unavailable":
		return unavailable(fmt.Sprintf("the authserver is unavailable (status %d)", status), cause)
	case re.ErrorCode == "invalid_client":
		return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: fmt.Sprintf("the authserver refused the webapp's client credentials (status %d, invalid_client)", status), Err: cause}
	}
	desc := fmt.Sprintf("the authserver answered the token request with status %d", status)
	if re.ErrorCode != "" {
		desc += " (" + clip(re.ErrorCode) + ")"
	}
	return &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: desc, Err: cause}
}

func unavailable(desc string, cause error) error {
	return &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer, Description: desc, Err: cause}
}

// clip bounds upstream text before it reaches a response or a log line.
func clip(s string) string {
	const maxLen = 200
	if len(s) > maxLen {
		return s[:maxLen] + "..."
	}
	return s
}

func quote(s string) string { return fmt.Sprintf("%q", clip(s)) }
