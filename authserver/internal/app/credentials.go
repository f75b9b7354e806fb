package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// credentialChecker verifies a username and password the one way both the
// password grant and the login page need: brute-force limits first, a decoy
// hash for unknown users so that timing tells nothing, every failure
// counted.
type credentialChecker struct {
	users     UserFinder
	passwords SecretVerifier
	limiter   FailureLimiter
	// decoyHash is verified when the user does not exist; it must have the
	// scheme and cost of real password hashes.
	decoyHash string
}

var (
	errBadCredentials = domain.Errorf(domain.InvalidGrant, "wrong username or password")
	errTooManyTries   = domain.Errorf(domain.InvalidGrant, "too many failed attempts; try again later")
)

// check returns the user if the password is theirs. limitKeys are the
// counters a failure adds to and any of which, when full, refuses the try.
func (cc *credentialChecker) check(ctx context.Context, username, password string, limitKeys ...string) (domain.User, error) {
	for _, k := range limitKeys {
		blocked, err := cc.limiter.Blocked(ctx, k)
		if err != nil {
			return domain.User{}, err
		}
		if blocked {
			return domain.User{}, errTooManyTries
		}
	}
	user, err := cc.users.FindUserByUsername(ctx, username)
	hash := user.PasswordHash
	switch {
	case errors.Is(err, domain.ErrNotFound):
		hash = cc.decoyHash
	case err != nil:
		return domain.User{}, err
	}
	ok, err := cc.passwords.VerifySecret(ctx, hash, password)
	if err != nil {
		return domain.User{}, err
	}
	if !ok || user.ID == "" {
		for _, k := range limitKeys {
			if err := cc.limiter.Failed(ctx, k); err != nil {
				return domain.User{}, err
			}
		}
		return domain.User{}, errBadCredentials
	}
	return user, nil
}

// LimitPolicy is how many failures a key may have within Window before it
// is blocked until the window ends. Every limiter backend enforces it the
// same way: a fixed window that starts at the first failure.
type LimitPolicy struct {
	MaxFailures int
	Window      time.Duration
}
