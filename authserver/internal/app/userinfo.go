package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// UserInfoEndpoint answers OpenID Connect's UserInfo requests (Core
// §5.3): the claims about the user that the access token's scope
// releases.
type UserInfoEndpoint struct {
	verifier    AccessTokenVerifier
	revocations RevocationStore
	users       UserLookup
	now         Clock
}

// NewUserInfoEndpoint returns the endpoint.
func NewUserInfoEndpoint(v AccessTokenVerifier, revocations RevocationStore, users UserLookup, now Clock) *UserInfoEndpoint {
	return &UserInfoEndpoint{verifier: v, revocations: revocations, users: users, now: now}
}

// ErrBadAccessToken means the bearer token is no access token that is
// active: malformed, not this server's, expired or revoked, or its user is
// gone. RFC 6750 §3.1 answers it with 401.
var ErrBadAccessToken = domain.Errorf(domain.InvalidToken, "the access token is invalid, expired or revoked")

// errNotOpenID is a good access token without the openid scope: UserInfo
// is OpenID Connect's, and such a token never was (Core §5.3.1, RFC 6750
// §3.1).
var errNotOpenID = domain.Errorf(domain.InsufficientScope, "the access token was not issued for OpenID Connect (no openid scope)")

// UserInfo returns what the access token's scope releases of its user:
// the subject, the profile claims with "profile", the email claims with
// "email".
func (e *UserInfoEndpoint) UserInfo(ctx context.Context, token string) (domain.UserInfo, error) {
	t, err := activeAccessToken(ctx, e.verifier, e.revocations, e.now, token)
	if err != nil {
		return domain.UserInfo{}, err
	}
	if !t.Scope.Has(domain.ScopeOpenID) {
		return domain.UserInfo{}, errNotOpenID
	}
	if t.Subject == t.ClientID {
		// A client's own token (client_credentials, RFC 9068 §2.2): no
		// user to tell about.
		return domain.UserInfo{}, errNotOpenID
	}
	u, err := e.users.FindUser(ctx, t.Subject)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.UserInfo{}, ErrBadAccessToken // the account was closed
	}
	if err != nil {
		return domain.UserInfo{}, err
	}
	return domain.UserInfoFor(u, t.Scope), nil
}

// activeAccessToken returns the claims of token if it is an access token
// of this server that is active now: signed by it, unexpired, not
// revoked. Otherwise ErrBadAccessToken, or an error matching
// domain.ErrUnavailable when that cannot be told.
func activeAccessToken(ctx context.Context, v AccessTokenVerifier, revocations RevocationStore, now Clock, token string) (domain.AccessToken, error) {
	if token == "" {
		return domain.AccessToken{}, ErrBadAccessToken
	}
	t, err := v.VerifyAccessToken(ctx, token)
	switch {
	case errors.Is(err, domain.ErrUnavailable):
		return domain.AccessToken{}, err
	case err != nil, t.Expired(now()):
		return domain.AccessToken{}, ErrBadAccessToken
	}
	revoked, err := revocations.Revoked(ctx, t.IssuedAt, revocationIDs(t)...)
	switch {
	case err != nil:
		return domain.AccessToken{}, err
	case revoked:
		return domain.AccessToken{}, ErrBadAccessToken
	}
	return t, nil
}
