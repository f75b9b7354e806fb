package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Session is a signed-in person: a browser holding the token in a cookie,
// or a program holding it as a bearer token of the accounts API. Both are
// one model, listed and ended together. Only the token's hash is stored, so
// a leaked table opens no session.
type Session struct {
	Hash   string
	UserID string
	// Door is how the session was opened; empty for sessions stored
	// before doors were recorded, which were all the login page's.
	Door SessionDoor
	// Source is the client address that opened the session, UserAgent
	// the User-Agent it sent (cut to MaxUserAgentBytes): where the person
	// is, for them to recognise on the account page.
	Source    string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionDoor is the way a session was opened.
type SessionDoor string

// The doors.
const (
	// DoorPage: the login or sign-up page; the browser holds the token in
	// a cookie.
	DoorPage SessionDoor = "page"
	// DoorAPI: POST /api/sessions; the program holds a bearer token.
	DoorAPI SessionDoor = "api"
)

// MaxUserAgentBytes bounds the User-Agent a session keeps: enough to tell
// browsers apart, not a place to store what a client chooses to send.
const MaxUserAgentBytes = 200

// Active reports whether the session may be used at now.
func (s *Session) Active(now time.Time) bool { return now.Before(s.ExpiresAt) }

// ID names the session where it is listed and ended (the account page,
// /api/sessions/{id}). It is derived from the hash, so it needs no storage
// of its own, and it is one-way: knowing it helps neither to find the
// token nor the hash a store keys the session by.
func (s *Session) ID() string { return SessionID(s.Hash) }

// SessionID is the ID of the session stored under hash.
func SessionID(hash string) string {
	sum := sha256.Sum256([]byte("session id\x00" + hash))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// SessionIDLength is the length of every session ID: 16 bytes, base64url.
const SessionIDLength = 22

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// MaxCodeTTL is the longest an authorization code may live (RFC 6749
// §4.1.2 recommends ten minutes at most; a client redeems it at once).
const MaxCodeTTL = time.Minute

// AuthorizationCode is an issued code, bound to everything it was issued for
// (RFC 6749 §4.1.2, §10.5), and where it is in its one redemption.
//
// Redemption has two phases, so that a failed token write leaves the code
// usable and a replay during an exchange still takes everything down: an
// exchange attempt first claims the code (ClaimedBy, until ClaimedUntil),
// then, once its tokens are stored, settles the claim as Used, or releases
// it on failure. A second valid presentation while the code is claimed or
// after it is used marks it Replayed.
type AuthorizationCode struct {
	Hash     string
	ClientID string
	UserID   string
	// RedirectURI is the redirect_uri of the authorization request as sent,
	// "" if it was left out; the token request must repeat it exactly.
	RedirectURI     string
	Scope           Scope
	Challenge       string
	ChallengeMethod string
	// FamilyID is fixed when the code is issued, so that a replay can revoke
	// every token its first redemption produced.
	FamilyID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Nonce is the OpenID Connect request's nonce, for the ID token; ""
	// if it had none.
	Nonce string
	// SignIn is the user's sign-in the code was issued under, for the ID
	// token; zero unless the scope has openid.
	SignIn SignIn

	// Used: an exchange stored its tokens and settled its claim.
	Used bool
	// Replayed: the code was presented again while claimed or after use.
	Replayed bool
	// ClaimedBy is the exchange attempt holding the code, "" if none;
	// the claim lapses at ClaimedUntil.
	ClaimedBy    string
	ClaimedUntil time.Time
}

// Claimable reports whether attempt may claim the code at now: nobody has
// used it, and it is free, already this attempt's (a claim sent twice), or
// held by an attempt whose claim has lapsed (it died mid-exchange).
func (c *AuthorizationCode) Claimable(attempt string, now time.Time) bool {
	if c.Used || c.Replayed {
		return false
	}
	return c.ClaimedBy == "" || c.ClaimedBy == attempt || !now.Before(c.ClaimedUntil)
}

// Consent records that a user let a client have a scope. A later request
// for the same client and no more scope skips the consent page.
type Consent struct {
	UserID    string
	ClientID  string
	Scope     Scope
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ReleasesEmail reports whether the consent lets the client learn the
// user's email address: the email scope, with openid, which UserInfo
// requires.
func (c *Consent) ReleasesEmail() bool {
	return c.Scope.Has(ScopeOpenID) && c.Scope.Has(ScopeEmail)
}
