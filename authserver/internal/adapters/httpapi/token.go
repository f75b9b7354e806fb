package httpapi

import (
	"context"
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/zaplog"
)

// ClientAuthenticator authenticates the client of a request.
type ClientAuthenticator interface {
	// Authenticate returns the client if cred is good for it.
	Authenticate(ctx context.Context, cred app.ClientCredentials) (domain.Client, error)
}

// TokenExchanger issues tokens.
type TokenExchanger interface {
	// Exchange issues tokens for req on behalf of an authenticated client.
	Exchange(ctx context.Context, client domain.Client, req app.TokenRequest) (app.TokenResponse, error)
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// authenticate parses an OAuth form and authenticates its client, the first
// step of the token, introspection and revocation endpoints alike; with a
// rate limit per client (clientLimiter), the client then spends a request.
func authenticate(w http.ResponseWriter, r *http.Request, clients ClientAuthenticator) (form, domain.Client, error) {
	f, err := parseForm(r)
	if err != nil {
		return nil, domain.Client{}, err
	}
	cred, err := clientCredentials(r, f)
	if err != nil {
		return nil, domain.Client{}, err
	}
	cred.Source = sourceOf(r)
	c, err := clients.Authenticate(r.Context(), cred)
	if err != nil {
		return nil, domain.Client{}, err
	}
	zaplog.SetClientID(r.Context(), c.ID)
	// Known before the rate limit, so that a browser on the client's
	// origin can read a 429 too.
	corsClient(r.Context(), c)
	if l, ok := clients.(clientLimiter); ok {
		if err := l.limitClient(r.Context(), w.Header(), c); err != nil {
			return nil, domain.Client{}, err
		}
	}
	return f, c, nil
}

// handleToken serves the token endpoint (RFC 6749 §3.2).
func handleToken(clients ClientAuthenticator, tokens TokenExchanger, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, client, err := authenticate(w, r, clients)
		if err != nil {
			writeFormError(w, r, log, err)
			return
		}
		scope, err := domain.ParseScope(f["scope"])
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		source := ""
		if f["grant_type"] == string(domain.GrantPassword) {
			source = sourceOf(r) // for the password grant's limits
		}
		resp, err := tokens.Exchange(r.Context(), client, app.TokenRequest{
			GrantType:    f["grant_type"],
			Scope:        scope,
			Username:     f["username"],
			Password:     f["password"],
			Source:       source,
			RefreshToken: f["refresh_token"],
			Code:         f["code"],
			RedirectURI:  f["redirect_uri"],
			CodeVerifier: f["code_verifier"],
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		zaplog.SetUserID(r.Context(), resp.UserID)
		noStore(w)
		httpserver.JSON(w, http.StatusOK, tokenBody{
			AccessToken:  resp.AccessToken,
			TokenType:    resp.TokenType,
			ExpiresIn:    resp.ExpiresIn,
			RefreshToken: resp.RefreshToken,
			Scope:        resp.Scope.String(),
			IDToken:      resp.IDToken,
		})
	})
}
