// Package domain holds what the resource server reasons about: the access
// token the authorization server vouched for, the scopes that guard each
// endpoint, and the RFC 6750 error codes. It imports only the standard library.
package domain

import (
	"errors"
	"fmt"
)

// ErrorCode is an error code a client can act on.
type ErrorCode string

// Codes of RFC 6750 §3.1, plus Unauthorized and TemporarilyUnavailable.
const (
	// Unauthorized is for a request that carries no bearer token at all.
	// RFC 6750 §3.1 says the challenge then carries no error code, since the
	// client has not tried and failed; the JSON body still needs a name.
	Unauthorized      ErrorCode = "unauthorized"
	InvalidRequest    ErrorCode = "invalid_request"
	InvalidToken      ErrorCode = "invalid_token"
	InsufficientScope ErrorCode = "insufficient_scope"
	// TemporarilyUnavailable borrows RFC 6749 §4.1.2.1's code for "retry
	// later", which is what a client should do when introspection fails.
	TemporarilyUnavailable ErrorCode = "temporarily_unavailable"
)

// Error is a protocol error. The edge decides the HTTP status and the
// WWW-Authenticate challenge from Code.
type Error struct {
	Code        ErrorCode
	Description string
	// Scope, for InsufficientScope, is the scope that would have been
	// enough (RFC 6750 §3: the challenge's scope attribute).
	Scope string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Description
}

// Is makes errors.Is(err, &Error{Code: X}) match any error with code X, and
// a target with a description match only that description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Description == "" || t.Description == e.Description)
}

// Errorf returns an *Error with a formatted description.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// ErrNoToken is the answer to a request that carries no bearer token.
var ErrNoToken = &Error{Code: Unauthorized, Description: "a bearer token is required"}

// ErrTokenInactive is the answer for every token this server will not
// honour: unknown, expired, revoked, or issued for another audience. One
// description for all of them, so a caller learns nothing about which (the
// spirit of RFC 7662 §2.2).
var ErrTokenInactive = &Error{Code: InvalidToken, Description: "the access token is invalid or expired"}

// ErrUnavailable means the authorization server could not say whether a
// token is good: it is down, slow, failing or answered nonsense. The token
// may well be valid, so this is never an invalid_token.
var ErrUnavailable = errors.New("authorization server unavailable")

// ErrCredentialsRejected means the authorization server refused this
// server's own client credentials. To a caller it is unavailability like any
// other, hence the wrapping; to an operator it is a misconfiguration, so the
// edge logs it louder.
var ErrCredentialsRejected = fmt.Errorf("%w: it rejected our client credentials", ErrUnavailable)
