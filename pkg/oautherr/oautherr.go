// Package oautherr is the error response of every service's HTTP edge: the
// body of RFC 6749 §5.2 (error, error_description, error_uri), the HTTP
// status each code is answered with, the WWW-Authenticate challenges of
// RFC 6750 §3 and RFC 7617, and the headers that keep an answer about
// credentials out of caches.
//
// A service's domain keeps its own error codes (it imports only the
// standard library); its edge maps them to Error values in one function.
package oautherr

import (
	"net/http"
	"strings"

	"github.com/oauth2ref/pkg/httpserver"
)

// Code is an error code: one of those registered by the RFCs below, or one
// a service answers with for what they do not cover.
type Code string

// The codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1 and RFC 7009
// §2.2.1.
const (
	InvalidRequest          Code = "invalid_request"
	InvalidClient           Code = "invalid_client"
	InvalidGrant            Code = "invalid_grant"
	UnauthorizedClient      Code = "unauthorized_client"
	UnsupportedGrantType    Code = "unsupported_grant_type"
	InvalidScope            Code = "invalid_scope"
	AccessDenied            Code = "access_denied"
	UnsupportedResponseType Code = "unsupported_response_type"
	UnsupportedTokenType    Code = "unsupported_token_type"
	InvalidToken            Code = "invalid_token"
	InsufficientScope       Code = "insufficient_scope"
	ServerError             Code = "server_error"
	TemporarilyUnavailable  Code = "temporarily_unavailable"
)

// Error is an error response's body.
type Error struct {
	Code        Code   `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	// Scope, with insufficient_scope, is the scope that would have been
	// enough (RFC 6750 §3); it goes in the challenge too.
	Scope string `json:"scope,omitempty"`
}

// Error makes an *Error a Go error too: an edge may refuse a request with
// one before any use case runs (a malformed header, say).
func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Description
}

// Status is the HTTP status an error with code is answered with: 401 for a
// failed client authentication (RFC 6749 §5.2) or a bad bearer token (RFC
// 6750 §3.1), 403 for too little scope or a refusal, 503 and 500 for the
// server's own failures, and 400 for everything else, the caller's
// mistakes.
func Status(code Code) int {
	switch code {
	case InvalidClient, InvalidToken:
		return http.StatusUnauthorized
	case InsufficientScope, AccessDenied:
		return http.StatusForbidden
	case TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	case ServerError:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// NoStore marks a response as one no cache may keep, since it is about
// credentials (RFC 6749 §5.1, RFC 6750 §5.3).
func NoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// Write answers e as JSON with the given status, marked NoStore.
func Write(w http.ResponseWriter, status int, e Error) {
	NoStore(w.Header())
	httpserver.JSON(w, status, e)
}

// BasicChallenge is the WWW-Authenticate value of a 401 that asks for HTTP
// Basic credentials (RFC 7617), such as a failed client authentication
// (RFC 6749 §5.2).
func BasicChallenge(realm string) string {
	return `Basic realm="` + quotable(realm) + `", charset="UTF-8"`
}

// BearerChallenge is the WWW-Authenticate value of RFC 6750 §3 for e. A
// nil e is a request that carried no token: its challenge has no error
// attribute (§3.1). An insufficient_scope names the scope needed instead of
// a description.
func BearerChallenge(realm string, e *Error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="` + quotable(realm) + `"`)
	if e == nil {
		return b.String()
	}
	b.WriteString(`, error="` + quotable(string(e.Code)) + `"`)
	if e.Code == InsufficientScope && e.Scope != "" {
		b.WriteString(`, scope="` + quotable(e.Scope) + `"`)
		return b.String()
	}
	if e.Description != "" {
		b.WriteString(`, error_description="` + quotable(e.Description) + `"`)
	}
	return b.String()
}

// quotable drops what RFC 6750 §3 does not allow inside the quoted
// attribute values (%x20-21 / %x23-5B / %x5D-7E), so no description can
// break the header's syntax.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7E || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
