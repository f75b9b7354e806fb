// Package domain holds what the resource server reasons about: the access
// token the authorization server vouched for, the scopes that guard each
// endpoint, and the ways a request is refused. It imports only the standard
// library; the edge turns refusals into RFC 6750 answers.
package domain

import (
	"errors"
	"fmt"
)

// ErrNoToken refuses a request that carries no bearer token.
var ErrNoToken = errors.New("a bearer token is required")

// ErrTokenInactive refuses every token this server will not honour:
// unknown, expired, revoked, or issued for another audience. One error for
// all of them, so a caller learns nothing about which (the spirit of RFC
// 7662 §2.2).
var ErrTokenInactive = errors.New("the access token is invalid or expired")

// ScopeError refuses a token that does not grant Scope, the scope that
// would have been enough.
type ScopeError struct {
	Scope string
}

func (e *ScopeError) Error() string {
	return "the access token does not grant the " + e.Scope + " scope"
}

// ErrUnavailable means the authorization server could not say whether a
// token is good: it is down, slow, failing or answered nonsense. The token
// may well be valid, so this is never a refusal of the token.
var ErrUnavailable = errors.New("authorization server unavailable")

// ErrCredentialsRejected means the authorization server refused this
// server's own client credentials. To a caller it is unavailability like any
// other, hence the wrapping; to an operator it is a misconfiguration, so the
// edge logs it louder.
var ErrCredentialsRejected = fmt.Errorf("%w: it rejected our client credentials", ErrUnavailable)
