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
