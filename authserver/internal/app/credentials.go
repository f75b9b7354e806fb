package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// TextRules prepare what people type, so that one account has one name
// however it is typed, and one password one hash however the keyboard
// composed it: the PRECIS profiles of RFC 8265.
type TextRules interface {
	// Username returns the form a username is stored and compared in
	// (UsernameCaseMapped: "Alice" and "alice" are one name), or an error
	// if the profile refuses it.
	Username(s string) (string, error)
	// Password returns the form of a password that is hashed and verified
	// (OpaqueString; ASCII passwords are unchanged), or an error if the
	// profile refuses it.
	Password(s string) (string, error)
}

// Bounds on identifiers, checked before any look-up, so that nothing an
// attacker sends is kept, hashed or counted at a size of their choosing.
const (
	// MaxUsernameBytes bounds a username in its prepared form, in bytes.
	MaxUsernameBytes = 64
	// MaxClientIDBytes bounds a client id, in bytes.
	MaxClientIDBytes = 128
	// maxRawUsername bounds a username before it is prepared: the profile
	// is not run on megabytes.
	maxRawUsername = 4 * MaxUsernameBytes
)

// Credentials are what checking a username and password needs.
type Credentials struct {
	Users     UserFinder
	Passwords SecretVerifier
	Limiter   Limiter
	Text      TextRules
	// DecoyHash is verified when the user does not exist; it must have the
	// scheme and cost of real password hashes, and no known password.
	DecoyHash string
}

// credentialChecker verifies a username and password the one way both the
// password grant and the login page need: the attempt reserved under its
// limit keys before anything is looked up, a decoy hash for unknown users
// so that timing tells nothing, the outcome settled after.
type credentialChecker struct {
	Credentials
	gate *gate
}

func newCredentialChecker(c Credentials) credentialChecker {
	return credentialChecker{Credentials: c, gate: newGate(c.Limiter)}
}

var (
	errBadCredentials = domain.Errorf(domain.InvalidGrant, "wrong username or password")
	// errDisabled: the right password of an account an administrator
	// disabled.
	errDisabled = domain.Errorf(domain.InvalidGrant, "this account is disabled")
)

// username returns the prepared form of a username someone typed, or
// invalid_request if it is too long or the profile refuses it.
func (cc *credentialChecker) username(raw string) (string, error) {
	tooLong := domain.Errorf(domain.InvalidRequest, "a username has at most %d bytes", MaxUsernameBytes)
	if len(raw) > maxRawUsername {
		return "", tooLong
	}
	u, err := cc.Text.Username(raw)
	if err != nil || u == "" {
		return "", domain.Errorf(domain.InvalidRequest, "the username has characters that are not allowed in one")
	}
	if len(u) > MaxUsernameBytes {
		return "", tooLong
	}
	return u, nil
}

// password returns the form of password to verify. A password the profile
// refuses is verified as typed: no hash is ever made of such a password
// now, so it can only match one made before the profile was applied.
func (cc *credentialChecker) password(raw string) string {
	if p, err := cc.Text.Password(raw); err == nil {
		return p
	}
	return raw
}

// check returns the user if password is theirs. username is prepared;
// keys are the counters the attempt is reserved under.
func (cc *credentialChecker) check(ctx context.Context, username, password string, keys []LimitKey) (domain.User, error) {
	res, err := cc.gate.admit(ctx, domain.InvalidGrant, keys, nil)
	if err != nil {
		return domain.User{}, err
	}
	user, err := cc.Users.FindUserByUsername(ctx, username)
	hash := user.PasswordHash
	switch {
	case errors.Is(err, domain.ErrNotFound):
		hash = cc.DecoyHash
	case err != nil:
		res.settle(ctx, domain.AttemptCancelled)
		return domain.User{}, err
	}
	ok, err := cc.Passwords.VerifySecret(ctx, hash, cc.password(password))
	if err != nil {
		// Not checked (the hash queue is full, the caller left): not counted.
		res.settle(ctx, domain.AttemptCancelled)
		return domain.User{}, err
	}
	if !ok || user.ID == "" {
		res.settle(ctx, domain.AttemptFailed)
		return domain.User{}, errBadCredentials
	}
	res.settle(ctx, domain.AttemptSucceeded)
	if user.Disabled {
		// The right password, told apart only once it was checked: a
		// disabled account answers like a wrong password to anyone who
		// does not know it, and signs nobody in.
		return domain.User{}, errDisabled
	}
	return user, nil
}

// passwordKeys are the counters of a password attempt from source: the
// account from anywhere, and the account from this source.
func passwordKeys(username, source string) []LimitKey {
	return []LimitKey{limitKey(LimitAccount, username), limitKey(LimitAccountSource, username, source)}
}
