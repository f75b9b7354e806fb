package domain

import "time"

// AccessToken is what an RFC 9068 JWT access token asserts.
type AccessToken struct {
	ID        string // jti
	Issuer    string
	Subject   string // the user's ID, or the client's ID when no user is involved
	Audience  []string
	ClientID  string
	Scope     Scope
	IssuedAt  time.Time
	ExpiresAt time.Time
	// GrantID links the token to the grant it came from (a refresh token
	// family), so revoking the grant revokes the token. Empty for
	// client_credentials tokens, which have no grant to revoke.
	GrantID string
}

// Expired reports whether the token is past its expiry at now.
func (t *AccessToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// RefreshStatus is where a refresh token is in its life.
type RefreshStatus string

// A refresh token is active until it is rotated or revoked.
const (
	RefreshActive RefreshStatus = "active"
	// RefreshRotated is a token used once and replaced. Presenting it again
	// means it leaked, so its whole family is revoked (RFC 9700 §4.14.2).
	RefreshRotated RefreshStatus = "rotated"
	RefreshRevoked RefreshStatus = "revoked"
)

// RefreshToken is a stored refresh token. Only the hash of the token is
// kept; the token itself exists only in the client's hands.
type RefreshToken struct {
	Hash      string
	FamilyID  string // every token rotated from one original grant shares it
	ClientID  string
	UserID    string
	Scope     Scope
	Status    RefreshStatus
	IssuedAt  time.Time
	ExpiresAt time.Time
	// AccessTTL is the access token lifetime of the family's client when the
	// token was issued: revoking the family must outlive the family's last
	// access token.
	AccessTTL time.Duration
	// AuthTime is when the user authorized the grant the family descends
	// from (the authorization code's issue time, or the password grant's
	// time). A user's grant to a client revoked at or after it refuses every
	// new token of the family, however late the family is created.
	AuthTime time.Time
	// SignIn is the user's sign-in the family's OpenID Connect grant
	// rests on, which every ID token a refresh issues tells of; zero for
	// a family that is not one.
	SignIn SignIn
}

// Usable reports whether the token may be exchanged at now.
func (t *RefreshToken) Usable(now time.Time) bool {
	return t.Status == RefreshActive && now.Before(t.ExpiresAt)
}
