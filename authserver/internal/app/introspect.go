package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// AccessTokenVerifier checks a JWT access token's signature, header and
// issuer and returns its claims. It does not judge expiry: the use cases
// do, with their own clock. An error matching domain.ErrUnavailable means it
// cannot tell now; any other error, that token is not one of ours.
type AccessTokenVerifier interface {
	// VerifyAccessToken returns the claims of token if its signature, header
	// and issuer are good.
	VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error)
}

// Token type hints of RFC 7009 §2.1 and RFC 7662 §2.1.
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// Introspection is what the server knows of a token (RFC 7662 §2.2). Only
// one of Access and Refresh is set when Active.
type Introspection struct {
	Active  bool
	Access  *domain.AccessToken
	Refresh *domain.RefreshToken
}

// Introspector answers RFC 7662 introspection requests.
type Introspector struct {
	verifier    AccessTokenVerifier
	revocations RevocationStore
	refresh     RefreshTokenStore
	now         Clock
}

// NewIntrospector returns an Introspector. refresh may be nil when no grant
// issues refresh tokens.
func NewIntrospector(v AccessTokenVerifier, r RevocationStore, refresh RefreshTokenStore, now Clock) *Introspector {
	return &Introspector{verifier: v, revocations: r, refresh: refresh, now: now}
}

var inactive = Introspection{}

// Introspect tells caller about token. Anything not valid, and anything the
// caller may not see, is inactive: RFC 7662 §2.2 allows no more detail, and a
// token from another client is none of a client's business unless the client
// is a resource server allowed to introspect.
func (in *Introspector) Introspect(ctx context.Context, caller domain.Client, token, hint string) (Introspection, error) {
	if token == "" {
		return inactive, domain.Errorf(domain.InvalidRequest, "token is required")
	}
	// The hint only orders the look-ups (§2.1); a wrong hint still finds it.
	if hint == HintRefreshToken {
		if res, found, err := in.refreshToken(ctx, caller, token); found || err != nil {
			return res, err
		}
		res, _, err := in.accessToken(ctx, caller, token)
		return res, err
	}
	if res, found, err := in.accessToken(ctx, caller, token); found || err != nil {
		return res, err
	}
	res, _, err := in.refreshToken(ctx, caller, token)
	return res, err
}

// accessToken reports found=true if token is a JWT access token this server
// signed, whatever its state.
func (in *Introspector) accessToken(ctx context.Context, caller domain.Client, token string) (Introspection, bool, error) {
	t, err := in.verifier.VerifyAccessToken(ctx, token)
	if errors.Is(err, domain.ErrUnavailable) {
		return inactive, false, err // cannot tell whether it is ours
	}
	if err != nil {
		return inactive, false, nil
	}
	if t.Expired(in.now()) || (!caller.Introspection && t.ClientID != caller.ID) {
		return inactive, true, nil
	}
	revoked, err := in.revocations.Revoked(ctx, t.IssuedAt, revocationIDs(t)...)
	if err != nil {
		return inactive, true, err
	}
	if revoked {
		return inactive, true, nil
	}
	return Introspection{Active: true, Access: &t}, true, nil
}

// refreshToken reports found=true if token is a stored refresh token. Only
// the client holding a refresh token may learn about it: resource servers
// never receive refresh tokens.
func (in *Introspector) refreshToken(ctx context.Context, caller domain.Client, token string) (Introspection, bool, error) {
	if in.refresh == nil {
		return inactive, false, nil
	}
	t, err := in.refresh.FindRefreshToken(ctx, HashToken(token))
	if errors.Is(err, domain.ErrNotFound) {
		return inactive, false, nil
	}
	if err != nil {
		return inactive, false, err
	}
	if t.ClientID != caller.ID || !t.Usable(in.now()) {
		return inactive, true, nil
	}
	return Introspection{Active: true, Refresh: &t}, true, nil
}
