package httpapi

import (
	"context"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// secretOnly refuses unauthenticated (public) callers: RFC 7662 §2.1 wants
// the introspection caller authenticated, and the metadata document
// advertises only the secret methods there.
type secretOnly struct{ ClientAuthenticator }

func (s secretOnly) Authenticate(ctx context.Context, cred app.ClientCredentials) (domain.Client, error) {
	if cred.Method == domain.AuthNone {
		return domain.Client{}, domain.Errorf(domain.InvalidClient, "introspection requires client authentication")
	}
	return s.ClientAuthenticator.Authenticate(ctx, cred)
}
