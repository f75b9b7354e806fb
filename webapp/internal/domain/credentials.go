// Package domain holds what the webapp reasons about: the user's credentials,
// the browser's sign-in attempts and sessions, the kinds of time it can show,
// the answers it gets, and the errors that say which upstream failed and how.
// It imports only the standard library.
package domain

// redacted is what a Secret prints as, wherever it is printed.
const redacted = "[redacted]"

// Secret is a password or an access token. It prints, formats and encodes as
// "[redacted]", so a secret handed to a logger or an error message by mistake
// does not leak; code that really needs the value converts it with string(s).
type Secret string

// String returns "[redacted]", for %v and %s.
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// MarshalText returns "[redacted]", so JSON, XML and zap's encoders never
// see the value.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Credentials are a user's username and password, passed on to the
// authorization server in the password grant and never kept.
type Credentials struct {
	Username string
	Password Secret
}

// Validate rejects credentials the authorization server could only refuse as
// a malformed request: that is the caller's mistake, not a wrong password.
func (c Credentials) Validate() error {
	if c.Username == "" || c.Password == "" {
		return &Error{Code: InvalidRequest, Description: "username and password must not be empty"}
	}
	return nil
}
