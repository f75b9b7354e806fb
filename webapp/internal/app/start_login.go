package app

import (
	"github.com/oauth2ref/webapp/internal/domain"
)

// LoginStart is a sign-in just started: the attempt, which the browser
// keeps (sealed in a cookie) until it comes back, and where to send it.
type LoginStart struct {
	Attempt domain.LoginAttempt
	URL     string
}

// StartLogin makes a new sign-in attempt, with a fresh state, PKCE
// verifier and nonce, and returns the authorization request to send the
// browser to. It stores nothing: however many sign-ins are started, they
// cost the webapp no memory and push no one else's out. returnTo is where
// to go once signed in, already checked to be a path of the webapp's own.
func (b *Browser) StartLogin(returnTo string) LoginStart {
	a := domain.LoginAttempt{
		State:    domain.NewRandom(),
		Verifier: b.d.Authorizer.NewVerifier(),
		Nonce:    domain.NewRandom(),
		Expires:  b.d.Now().Add(domain.LoginAttemptTTL),
		ReturnTo: returnTo,
	}
	return LoginStart{Attempt: a, URL: b.d.Authorizer.AuthCodeURL(a.State, a.Verifier, a.Nonce)}
}
