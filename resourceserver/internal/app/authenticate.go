package app

import (
	"context"

	"github.com/oauth2ref/resourceserver/internal/domain"
)

// TokenVerifier asks the authority about a bearer token. It returns the token
// if it is active, domain.ErrTokenInactive if it is not, and an error
// wrapping domain.ErrUnavailable if there is no answer.
type TokenVerifier interface {
	// VerifyToken returns what the authority says of token, on the terms above.
	VerifyToken(ctx context.Context, token string) (domain.Token, error)
}

// Authenticator decides whether a bearer token is one this server honours.
type Authenticator struct {
	verifier TokenVerifier
	audience string
}

// NewAuthenticator returns an Authenticator that accepts only tokens whose
// audience includes audience; "" accepts any audience.
func NewAuthenticator(v TokenVerifier, audience string) *Authenticator {
	return &Authenticator{verifier: v, audience: audience}
}

// Authenticate returns the token if the authorization server says it is
// active, it is a bearer token, and it was issued for this server. It asks
// every time: caching answers would keep honouring a revoked token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (domain.Token, error) {
	t, err := a.verifier.VerifyToken(ctx, token)
	if err != nil {
		return domain.Token{}, err
	}
	// RFC 9068 §4: a token for another resource server must be refused, or
	// any server it was sent to could replay it here.
	if !t.IntendedFor(a.audience) || !t.IsBearer() {
		return domain.Token{}, domain.ErrTokenInactive
	}
	return t, nil
}
