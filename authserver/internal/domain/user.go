package domain

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is a resource owner with an account on this server.
type User struct {
	// ID is stable and opaque; it is the "sub" of the user's tokens, so a
	// username can change without breaking resource servers.
	ID           string
	Username     string
	PasswordHash string
	// Admin lets the user, signed in, use the admin API (/api/admin):
	// manage every client and user.
	Admin bool
	// Disabled keeps the user from signing in by any door; disabling
	// also ends everything the user holds (see app.Admin.UpdateUser).
	Disabled bool
	// Name is the person's name as they want it shown (the OpenID Connect
	// "name" claim); "" if they gave none.
	Name string
	// Email is the person's email address, "" if they gave none;
	// EmailVerified says whether this server knows the address to be
	// theirs (the "email_verified" claim). Sign-up cannot tell, so only
	// an operator (a fixture) sets it.
	Email         string
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// The bounds of a user's profile: a name is shown on pages and sent in
// tokens, so it is kept to what a name needs; an address is at most what
// RFC 5321 §4.5.3.1 lets a mailbox path carry.
const (
	MaxNameRunes  = 100
	MaxEmailBytes = 254
)

// ValidateName checks a person's name: at most MaxNameRunes characters,
// none of them control characters, no spaces around it. "" is allowed (no
// name given).
func ValidateName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return errors.New("the name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return fmt.Errorf("a name has at most %d characters", MaxNameRunes)
	case strings.TrimSpace(name) != name:
		return errors.New("a name does not start or end with a space")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("a name has no control characters")
	}
	return nil
}

// ValidateEmail checks an email address: a bare addr-spec (RFC 5322
// §3.4.1, "someone@example.com", no display name or angle brackets) of at
// most MaxEmailBytes bytes, with a domain that has a dot. "" is allowed
// (no address given).
func ValidateEmail(email string) error {
	if email == "" {
		return nil
	}
	if len(email) > MaxEmailBytes {
		return fmt.Errorf("an email address has at most %d bytes", MaxEmailBytes)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return errors.New("the email address is not of the form someone@example.com")
	}
	at := strings.LastIndexByte(email, '@')
	if domainPart := email[at+1:]; !strings.Contains(domainPart, ".") || strings.HasPrefix(domainPart, "[") {
		return errors.New("the email address needs a domain name such as example.com")
	}
	return nil
}

// ValidateProfile checks the user's name and email.
func (u *User) ValidateProfile() error {
	if err := ValidateName(u.Name); err != nil {
		return err
	}
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	if u.EmailVerified && u.Email == "" {
		return errors.New("email_verified without an email address")
	}
	return nil
}
