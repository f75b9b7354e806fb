package domain

import "time"

// Session is a signed-in browser. The cookie holds a random token; only its
// hash is stored, so a leaked table opens no session.
type Session struct {
	Hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Active reports whether the session may be used at now.
func (s *Session) Active(now time.Time) bool { return now.Before(s.ExpiresAt) }

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// AuthorizationCode is an issued, not yet redeemed (or redeemed once) code,
// bound to everything it was issued for (RFC 6749 §4.1.2, §10.5).
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
	Redeemed  bool
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
