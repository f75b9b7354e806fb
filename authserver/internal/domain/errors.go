// Package domain holds the authorization server's entities (clients, users,
// scopes, tokens), the rules that belong to them, and the error codes of the
// OAuth 2.0 RFCs. It imports only the standard library.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode is an OAuth 2.0 error code as registered by the RFCs.
type ErrorCode string

// Codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1 and RFC 7009 §2.2.1.
const (
	InvalidRequest          ErrorCode = "invalid_request"
	InvalidClient           ErrorCode = "invalid_client"
	InvalidGrant            ErrorCode = "invalid_grant"
	UnauthorizedClient      ErrorCode = "unauthorized_client"
	UnsupportedGrantType    ErrorCode = "unsupported_grant_type"
	InvalidScope            ErrorCode = "invalid_scope"
	AccessDenied            ErrorCode = "access_denied"
	UnsupportedResponseType ErrorCode = "unsupported_response_type"
	UnsupportedTokenType    ErrorCode = "unsupported_token_type"
	InvalidToken            ErrorCode = "invalid_token"
	InsufficientScope       ErrorCode = "insufficient_scope"
	ServerError             ErrorCode = "server_error"
	TemporarilyUnavailable  ErrorCode = "temporarily_unavailable"
)

// Codes of RFC 7591 §3.2.2: a registration refused for one of its
// redirect URIs, or for any other of its metadata.
const (
	InvalidRedirectURI    ErrorCode = "invalid_redirect_uri"
	InvalidClientMetadata ErrorCode = "invalid_client_metadata"
)

// Codes of OpenID Connect Core §3.1.2.6, which an authorization request
// may be answered with too.
const (
	// LoginRequired: prompt=none, and the user must sign in first.
	LoginRequired ErrorCode = "login_required"
	// ConsentRequired: prompt=none, and the user must be asked first.
	ConsentRequired ErrorCode = "consent_required"
	// RequestNotSupported, RequestURINotSupported and
	// RegistrationNotSupported refuse the request, request_uri and
	// registration parameters, which this server does not implement.
	RequestNotSupported      ErrorCode = "request_not_supported"
	RequestURINotSupported   ErrorCode = "request_uri_not_supported"
	RegistrationNotSupported ErrorCode = "registration_not_supported"
)

// Error is a protocol error: a code a client can act on and a description
// for the developer reading it. The edge decides the HTTP status from Code.
type Error struct {
	Code        ErrorCode
	Description string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Description
}

// Is makes errors.Is(err, &Error{Code: X}) match any error with code X.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Description == "" || t.Description == e.Description)
}

// Errorf returns an *Error with a formatted description.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// CodeOf returns the protocol code of err, or "" if err is not a protocol error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// FieldError is a protocol error caused by one field of the input, which
// the JSON API names in its answer; errors.As finds the *Error inside, so
// an edge that has no use for the field answers it as any other.
type FieldError struct {
	// Field is the input's name for it, e.g. "password".
	Field string
	Err   *Error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the protocol error.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrorf returns a *FieldError of field with code and a formatted
// description.
func FieldErrorf(field string, code ErrorCode, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: Errorf(code, format, args...)}
}

// Storage sentinels. Stores translate their drivers' errors into these so the
// use cases never see a driver.
var (
	// ErrNotFound: no such entity.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an entity with that identity already exists.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable: a backend is down or too slow; the request may be
	// retried and nothing was changed.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrRevoked: the grant a token would descend from was revoked, so
	// nothing more may be issued from it.
	ErrRevoked = errors.New("grant revoked")
	// ErrClaimLost: an exchange's claim on a code was taken over or the
	// code was replayed before the exchange could settle it.
	ErrClaimLost = errors.New("claim lost")
)

// RetryLater is ErrUnavailable with a hint of when a retry can succeed,
// which the edge sends as Retry-After.
type RetryLater struct {
	After time.Duration
	Err   error // the outage behind it
}

func (e *RetryLater) Error() string { return fmt.Sprintf("retry after %s: %v", e.After, e.Err) }

// Unwrap makes a RetryLater match ErrUnavailable and its cause.
func (e *RetryLater) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// RetryAfter returns ErrUnavailable caused by err, to be retried after d.
func RetryAfter(err error, d time.Duration) error { return &RetryLater{After: d, Err: err} }

// RetryAfterOf is the retry hint of err, or fallback if it carries none.
func RetryAfterOf(err error, fallback time.Duration) time.Duration {
	var rl *RetryLater
	if errors.As(err, &rl) && rl.After > 0 {
		return rl.After
	}
	return fallback
}
