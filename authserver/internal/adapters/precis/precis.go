// Package precis prepares usernames and passwords by the PRECIS profiles
// of RFC 8265, with golang.org/x/text/secure/precis: a username is stored
// and compared in its UsernameCaseMapped form (width-mapped, lower-cased,
// NFC), so "Alice", "ALICE" and "ａｌｉｃｅ" are one account; a password is
// hashed and verified in its OpaqueString form (non-ASCII spaces mapped to
// the ASCII space, NFC), so it matches however the keyboard composed it.
// ASCII passwords are unchanged, so hashes made before still verify.
package precis

import (
	"errors"

	xprecis "golang.org/x/text/secure/precis"
)

// errEmpty: RFC 8265 refuses an empty username or password (§3.3.3,
// §4.2.3), which x/text lets through.
var errEmpty = errors.New("precis: empty string")

// Rules implement app.TextRules.
type Rules struct{}

// Username returns the UsernameCaseMapped form of s, or an error for what
// the profile refuses: spaces, control and unassigned characters, an empty
// string.
func (Rules) Username(s string) (string, error) { return enforce(xprecis.UsernameCaseMapped, s) }

// Password returns the OpaqueString form of s, or an error for what the
// profile refuses: control characters, an empty string.
func (Rules) Password(s string) (string, error) { return enforce(xprecis.OpaqueString, s) }

func enforce(p *xprecis.Profile, s string) (string, error) {
	out, err := p.String(s)
	if err == nil && out == "" {
		err = errEmpty
	}
	return out, err
}
