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

// ClientSecretVerifier checks client secrets, cheaply where it can.
type ClientSecretVerifier interface {
	SecretVerifier
	// VerifyQuick checks secret against hash if that needs no slow hash:
	// the hash is of a fast scheme, or this secret matched it before. done
	// is false when only VerifySecret can tell.
	VerifyQuick(ctx context.Context, hash, secret string) (ok, done bool, err error)
}

// ClientCredentials is what a request presented to authenticate its client.
type ClientCredentials struct {
	ID     string
	Secret string
	Method domain.AuthMethod
	// Source is where the request comes from: the key of the client
	// address (pkg/httpserver.SourceKey), for the limits.
	Source string
}

// ClientAuthDeps are what a ClientAuthenticator needs.
type ClientAuthDeps struct {
	Clients ClientFinder
	Secrets ClientSecretVerifier
	Limiter Limiter
	// DecoyHash is verified for an unknown client, and for a wrong secret
	// whose own check was quick, so that every failure takes as long: it
	// must be an argon2id hash of the cost of typed-in secrets, of no
	// known secret.
	DecoyHash string
}

// ClientAuthenticator authenticates clients at the token, introspection and
// revocation endpoints (RFC 6749 §2.3).
//
// A right secret is answered at once when it can be told cheaply (a
// generated secret's fast hash, or a typed-in secret that verified before),
// and never waits on the limits: a client cannot be slowed down by someone
// guessing its secret. Every other attempt is reserved under the client
// id, the client id and source, and the source, and pays one argon2id:
// the client's own hash, or the decoy. So an unknown client, a wrong
// secret and a method the client does not use look the same, in answer
// and in time, and guessing is throttled like a user's password.
type ClientAuthenticator struct {
	ClientAuthDeps
	gate *gate
}

// NewClientAuthenticator returns a ClientAuthenticator.
func NewClientAuthenticator(d ClientAuthDeps) *ClientAuthenticator {
	return &ClientAuthenticator{ClientAuthDeps: d, gate: newGate(d.Limiter)}
}

// errBadClient is the one answer for every failed authentication: an unknown
// client, a wrong secret and a method the client does not use look the
// same to the caller.
var errBadClient = domain.Errorf(domain.InvalidClient, "client authentication failed")

// Authenticate returns the client if the credentials are good for it.
func (a *ClientAuthenticator) Authenticate(ctx context.Context, cred ClientCredentials) (domain.Client, error) {
	if cred.ID == "" {
		return domain.Client{}, domain.Errorf(domain.InvalidClient, "client authentication is required")
	}
	if len(cred.ID) > MaxClientIDBytes {
		return domain.Client{}, domain.Errorf(domain.InvalidRequest, "a client_id has at most %d bytes", MaxClientIDBytes)
	}
	c, err := a.Clients.FindClient(ctx, cred.ID)
	known := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return domain.Client{}, err
	}
	if cred.Method == domain.AuthNone {
		// No secret, nothing to guess and nothing to hash. A public client
		// proves nothing here; the grants it may use (code with PKCE) bind
		// their own proof.
		if known && c.AllowsAuthMethod(domain.AuthNone) {
			return c, nil
		}
		return domain.Client{}, errBadClient
	}

	usable := known && c.AllowsAuthMethod(cred.Method) && c.SecretHash != "" && cred.Secret != ""
	hash := a.DecoyHash
	if usable {
		ok, done, err := a.Secrets.VerifyQuick(ctx, c.SecretHash, cred.Secret)
		switch {
		case err != nil:
			return domain.Client{}, err
		case done && ok:
			return c, nil
		case !done:
			hash = c.SecretHash
		}
		// done and wrong: the decoy below makes it as slow as any failure.
	}

	keys := []LimitKey{
		limitKey(LimitClient, cred.ID), limitKey(LimitClientSource, cred.ID, cred.Source), limitKey(LimitClientsSource, cred.Source),
	}
	// While other attempts are in flight, one of them may be this client's
	// own first check of its secret, which makes the next one quick.
	quickNow := false
	res, err := a.gate.admit(ctx, domain.InvalidClient, keys, func() (bool, error) {
		if hash != c.SecretHash {
			return true, nil
		}
		ok, done, err := a.Secrets.VerifyQuick(ctx, hash, cred.Secret)
		quickNow = done && ok
		return !quickNow, err
	})
	switch {
	case err != nil:
		return domain.Client{}, err
	case quickNow:
		return c, nil
	}
	ok, err := a.Secrets.VerifySecret(ctx, hash, cred.Secret)
	if err != nil {
		res.settle(ctx, domain.AttemptCancelled)
		return domain.Client{}, err
	}
	if !ok || !usable || hash != c.SecretHash {
		res.settle(ctx, domain.AttemptFailed)
		return domain.Client{}, errBadClient
	}
	res.settle(ctx, domain.AttemptSucceeded)
	return c, nil
}
