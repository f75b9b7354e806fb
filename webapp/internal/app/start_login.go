package app

import (
	"context"

	"github.com/oauth2ref/webapp/internal/domain"
)

// LoginStart is a sign-in just started: the attempt, whose ID the browser
// must keep (in a cookie) until it comes back, and where to send it.
type LoginStart struct {
	Attempt domain.LoginAttempt
	URL     string
}

// StartLogin records a new sign-in attempt, with a fresh state and PKCE
// verifier, and returns the authorization request to send the browser to.
func (b *Browser) StartLogin(ctx context.Context) (LoginStart, error) {
	a := domain.LoginAttempt{
		ID:       domain.NewRandom(),
		State:    domain.NewRandom(),
		Verifier: b.d.Authorizer.NewVerifier(),
		Expires:  b.d.Now().Add(domain.LoginAttemptTTL),
	}
	if err := b.d.Attempts.Create(ctx, a); err != nil {
		return LoginStart{}, err
	}
	return LoginStart{Attempt: a, URL: b.d.Authorizer.AuthCodeURL(a.State, a.Verifier)}, nil
}
