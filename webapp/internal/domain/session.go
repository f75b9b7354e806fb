package domain

import (
	"crypto/rand"
	"crypto/subtle"
	"time"
)

// LoginAttemptTTL is how long a browser has to come back from the
// authorization server with the answer to a sign-in it started.
const LoginAttemptTTL = 10 * time.Minute

// NewRandom returns a new unguessable value for an identifier, a state or
// a CSRF token: at least 128 bits from the system's secure random source, as
// URL- and cookie-safe text.
func NewRandom() Secret { return Secret(rand.Text()) }

// equalSecrets compares in time that does not depend on where the values
// first differ, so that a guesser learns nothing from how long a refusal took.
// An empty value never matches.
func equalSecrets(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Tokens are what the authorization server issued for a signed-in user.
type Tokens struct {
	AccessToken Secret
	// RefreshToken gets new tokens when the access token expires. The
	// authorization server rotates it on every use, so only the newest one
	// works, and presenting a used one ends the whole grant.
	RefreshToken Secret
	TokenType    string
	// Expiry is when the access token expires; zero when the server did not
	// say.
	Expiry time.Time
	// IDToken is the grant's latest OpenID Connect ID token, verified
	// when it came with the sign-in; kept to name the user to the
	// authorization server when they sign out (RP-Initiated Logout's
	// id_token_hint).
	IDToken Secret
}

// LoginAttempt is one sign-in a browser started: the values that tie the
// authorization server's answer to this browser and this request (RFC 6749
// §10.12, RFC 7636). The webapp keeps no copy: the browser holds it, sealed
// in a cookie that only the webapp can read or make, until it comes back.
// It is used once.
type LoginAttempt struct {
	// State goes out in the authorization request and must come back
	// unchanged in the answer.
	State Secret
	// Verifier is the PKCE code verifier whose S256 challenge went out; it
	// is sent with the code, so a code stolen on the way back is useless.
	Verifier Secret
	// Nonce goes out in the OpenID Connect authentication request and must
	// come back inside the ID token: an ID token replayed from another
	// sign-in does not carry it.
	Nonce   Secret
	Expires time.Time
	// ReturnTo is the webapp's own path to show once signed in; "" is the
	// home page.
	ReturnTo string
}

// Expired reports whether the attempt is too old to complete.
func (a LoginAttempt) Expired(now time.Time) bool { return !now.Before(a.Expires) }

// StateMatches reports whether state is the one this attempt sent.
func (a LoginAttempt) StateMatches(state string) bool { return equalSecrets(string(a.State), state) }

// Session is a signed-in browser: the user's tokens, kept on the server and
// named by a random cookie.
type Session struct {
	// ID is the value of the session cookie. A new one is made at every
	// sign-in, so a value planted in a browser beforehand is worthless
	// (session fixation).
	ID Secret
	// CSRFToken must come back with every form the session submits.
	CSRFToken Secret
	// Subject is the user signed in: the sub of their verified ID token.
	// It groups a user's sessions, so that one account cannot hold more
	// than its share of the webapp's.
	Subject string
	// Name is how to greet the user (UserInfo's name claim), "" if the
	// authorization server did not say.
	Name    string
	Tokens  Tokens
	Created time.Time
	// Expires is when the session ends however it is used.
	Expires time.Time
}

// Expired reports whether the session has ended by age.
func (s Session) Expired(now time.Time) bool { return !now.Before(s.Expires) }

// CSRFMatches reports whether token is this session's CSRF token.
func (s Session) CSRFMatches(token string) bool { return equalSecrets(string(s.CSRFToken), token) }

// AuthorizationResponse is what the authorization server sent back to the
// redirect URI: a code (RFC 6749 §4.1.2) or an error (§4.1.2.1), with the
// state of the request and the server's issuer identifier (RFC 9207).
type AuthorizationResponse struct {
	Code             Secret
	State            string
	Issuer           string
	Error            string
	ErrorDescription string
}
