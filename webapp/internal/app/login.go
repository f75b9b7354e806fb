package app

import (
	"context"

	"github.com/oauth2ref/webapp/internal/domain"
)

// Login exchanges the user's credentials for an access token limited to
// scope. Every call asks the authorization server afresh: this client's
// tokens live seconds, and showing the whole flow on every call is the point.
func (a *App) Login(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error) {
	if err := creds.Validate(); err != nil {
		return "", err
	}
	tok, err := a.tokens.Token(ctx, creds, scope)
	if err != nil {
		return "", err
	}
	if tok == "" {
		// Sending an empty bearer token would only move the failure to the
		// resource server and blame the wrong service.
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: "the authserver issued an empty access token"}
	}
	return tok, nil
}
