package domain

import (
	"errors"
	"strings"
)

// Service names an upstream the webapp depends on.
type Service string

// The two upstreams, and the store the browser sessions are kept in when
// it is not the webapp's own memory.
const (
	AuthServer     Service = "authserver"
	ResourceServer Service = "resourceserver"
	SessionStorage Service = "session store"
)

// ErrorCode says what went wrong, in the words the webapp's callers see.
type ErrorCode string

const (
	// InvalidRequest means the caller sent something malformed.
	InvalidRequest ErrorCode = "invalid_request"
	// InvalidCredentials means the credentials were missing, or the
	// authorization server refused them.
	InvalidCredentials ErrorCode = "invalid_credentials" //nolint:gosec // G101: an error code, not a credential
	// Unavailable means an upstream is down, too slow, or said it is
	// overloaded. Retrying shortly may work; nothing is wrong with the request.
	Unavailable ErrorCode = "unavailable"
	// BadGateway means an upstream answered, but not as the protocol says it
	// should. Usually a configuration mistake on one side; retrying will not
	// help, so it is logged for an operator.
	BadGateway ErrorCode = "bad_gateway"
	// TokenRejected means the resource server refused the access token
	// itself (RFC 6750 invalid_token): revoked or expired, so a fresh one
	// from the same grant would fare no better. To a caller of the JSON
	// API, which was just given that token, it is a BadGateway.
	TokenRejected ErrorCode = "token_rejected"
	// NotGranted means the resource server refused for lack of scope (RFC
	// 6750 insufficient_scope): the user did not grant it. To a caller of
	// the JSON API it is a BadGateway.
	NotGranted ErrorCode = "not_granted"
	// Forbidden means the request is refused whoever retries it, e.g. a form
	// without its CSRF token.
	Forbidden ErrorCode = "forbidden"
	// AccessDenied means the user (or the authorization server on their behalf)
	// declined to let the webapp in (RFC 6749 §4.1.2.1 access_denied).
	AccessDenied ErrorCode = "access_denied"
	// LoginFailed means a sign-in could not be completed (an answer that does
	// not belong to the sign-in this browser started, an expired or reused one,
	// a code the authorization server no longer accepts). Signing in again is
	// the remedy.
	LoginFailed ErrorCode = "login_failed"
	// SessionEnded means the authorization server or the resource server no
	// longer accepts the session's grant (revoked, or expired); the session
	// is over and the user must sign in again.
	SessionEnded ErrorCode = "session_ended"
)

// ErrNotFound says a store holds no live entry under the key asked for
// (never there, expired, or already used).
var ErrNotFound = errors.New("not found")

// Error is a failure with a code the edge turns into a status. Service says
// which upstream failed ("" when the failure is the caller's or the webapp's
// own).
type Error struct {
	Code    ErrorCode
	Service Service
	// Description is for the user: it says what failed and never carries a
	// secret, a token or an upstream's raw body.
	Description string
	// Err is the cause, for the logs only.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Service != "" {
		b.WriteString(string(e.Service) + ": ")
	}
	b.WriteString(string(e.Code))
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: X, Service: S}) match any error with
// code X from service S; an empty Service in the target matches any service.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Service == "" || t.Service == e.Service)
}

// CodeOf returns err's code, or "" if err is not an *Error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ServiceOf returns the upstream err names, or "" if none.
func ServiceOf(err error) Service {
	var e *Error
	if errors.As(err, &e) {
		return e.Service
	}
	return ""
}
