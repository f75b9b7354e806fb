package domain

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"time"
)

// OpenID Connect Core 1.0 on top of the authorization code flow: the
// scopes that ask for identity, the sign-in an ID token tells of, and the
// ID token itself.

// The scopes of OpenID Connect Core §3.1.2.1 and §5.4.
const (
	// ScopeOpenID makes an authorization request an OpenID Connect one:
	// the client gets an ID token, and may call UserInfo.
	ScopeOpenID = "openid"
	// ScopeProfile releases the user's name, username and when the
	// profile last changed.
	ScopeProfile = "profile"
	// ScopeEmail releases the user's email address and whether it is
	// verified.
	ScopeEmail = "email"
)

// MethodPassword is the only authentication method this server has: a
// password typed into the login page or sent to the accounts API (RFC
// 8176's "pwd", the ID token's "amr").
const MethodPassword = "pwd"

// SignIn is the sign-in an OpenID Connect grant rests on: when the user
// last proved who they are (the ID token's "auth_time") and the session
// that proof opened (its "sid"). It is fixed when the code is issued and
// kept by the refresh token family, so a refreshed ID token tells of the
// same sign-in. Zero for grants that are not OpenID Connect ones.
type SignIn struct {
	At        time.Time
	SessionID string
}

// IsZero reports whether there is no sign-in.
func (s SignIn) IsZero() bool { return s.At.IsZero() && s.SessionID == "" }

// SignInOf is the sign-in a session stands for: its start is when its
// user typed the password, and its id is the sid.
func SignInOf(s Session) SignIn { return SignIn{At: s.CreatedAt.UTC(), SessionID: s.ID()} }

// IDToken is what an OpenID Connect ID token asserts (Core §2).
type IDToken struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	// AuthTime is when the user signed in, whole seconds.
	AuthTime time.Time
	// Nonce is the authorization request's, "" if it had none (and in
	// every ID token a refresh issues, Core §12.2).
	Nonce string
	// AccessTokenHash is at_hash (Core §3.1.3.6): the left half of the
	// hash of the access token issued with it, base64url.
	AccessTokenHash string
	// Methods are how the user authenticated ("amr", RFC 8176).
	Methods []string
	// SessionID is the "sid" of the session the user signed in with.
	SessionID string
}

// AccessTokenHash is at_hash of accessToken for an ID token signed with
// alg (Core §3.1.3.6): the hash of the alg's JWS family (SHA-256 for the
// *256 algorithms; SHA-512 for EdDSA with Ed25519, as OpenID Connect's
// errata settle it), its left half, base64url. "" for an algorithm it
// does not know.
func AccessTokenHash(alg, accessToken string) string {
	var h hash.Hash
	switch alg {
	case "RS256", "ES256", "PS256":
		h = sha256.New()
	case "RS384", "ES384", "PS384":
		h = sha512.New384()
	case "RS512", "ES512", "PS512", "EdDSA":
		h = sha512.New()
	default:
		return ""
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// UserInfo is what the UserInfo endpoint and a client may learn of a user
// under a scope (Core §5.4): the subject always, the profile claims with
// "profile", the email claims with "email".
type UserInfo struct {
	Subject string
	// Profile: name, preferred_username, updated_at.
	Profile           bool
	Name              string
	PreferredUsername string
	UpdatedAt         time.Time
	// Email: email, email_verified.
	Email         bool
	EmailAddress  string
	EmailVerified bool
}

// UserInfoFor is what scope releases of u.
func UserInfoFor(u User, scope Scope) UserInfo {
	info := UserInfo{Subject: u.ID}
	if scope.Has(ScopeProfile) {
		info.Profile, info.Name, info.PreferredUsername, info.UpdatedAt = true, u.Name, u.Username, u.UpdatedAt.UTC()
	}
	if scope.Has(ScopeEmail) {
		info.Email, info.EmailAddress, info.EmailVerified = true, u.Email, u.EmailVerified
	}
	return info
}
