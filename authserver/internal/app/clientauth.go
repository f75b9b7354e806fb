package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// ClientFinder finds registered clients by id.
type ClientFinder interface {
	// FindClient returns the client registered under id, or domain.ErrNotFound.
	FindClient(ctx context.Context, id string) (domain.Client, error)
}

// SecretVerifier checks a presented secret against a stored hash.
type SecretVerifier interface {
	// VerifySecret reports whether secret matches hash; an error means the
	// check could not be made, not that the secret is wrong.
	VerifySecret(ctx context.Context, hash, secret string) (bool, error)
}

// ClientCredentials is what a request presented to authenticate its client.
type ClientCredentials struct {
	ID     string
	Secret string
	Method domain.AuthMethod
}

// ClientAuthenticator authenticates clients at the token, introspection and
// revocation endpoints (RFC 6749 §2.3).
type ClientAuthenticator struct {
	clients ClientFinder
	secrets SecretVerifier
}

// NewClientAuthenticator returns a ClientAuthenticator.
func NewClientAuthenticator(clients ClientFinder, secrets SecretVerifier) *ClientAuthenticator {
	return &ClientAuthenticator{clients: clients, secrets: secrets}
}

// errBadClient is the one answer for every failed authentication: an unknown
// client and a wrong secret look the same to the caller.
var errBadClient = domain.Errorf(domain.InvalidClient, "client authentication failed")

// Authenticate returns the client if the credentials are good for it.
func (a *ClientAuthenticator) Authenticate(ctx context.Context, cred ClientCredentials) (domain.Client, error) {
	if cred.ID == "" {
		return domain.Client{}, domain.Errorf(domain.InvalidClient, "client authentication is required")
	}
	c, err := a.clients.FindClient(ctx, cred.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Client{}, errBadClient
	}
	if err != nil {
		return domain.Client{}, err
	}
	if !c.AllowsAuthMethod(cred.Method) {
		return domain.Client{}, domain.Errorf(domain.InvalidClient, "client authentication failed: method %s is not registered for this client", cred.Method)
	}
	if cred.Method == domain.AuthNone {
		// A public client proves nothing here; the grants it may use (code
		// with PKCE) bind their own proof.
		return c, nil
	}
	if cred.Secret == "" || c.SecretHash == "" {
		return domain.Client{}, errBadClient
	}
	ok, err := a.secrets.VerifySecret(ctx, c.SecretHash, cred.Secret)
	if err != nil {
		return domain.Client{}, err
	}
	if !ok {
		return domain.Client{}, errBadClient
	}
	return c, nil
}
