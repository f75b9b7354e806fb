package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The administration of users: made under sign-up's rules, changed
// (the admin role, disabled, a new password) and deleted with the
// cascades their owners' own changes have.

// NewUser is a user an administrator makes: a name and a password under
// sign-up's rules (PRECIS, the password policy), the profile OpenID
// Connect shares, and whether the user is an administrator too.
type NewUser struct {
	Username, Password string
	Profile            Profile
	Admin              bool
}

// UserChange is what an administrator changes of a user; nil leaves a
// field as it is.
type UserChange struct {
	Admin    *bool
	Disabled *bool
	// Name, Email and EmailVerified change the profile (the OpenID
	// Connect claims), under sign-up's rules.
	Name, Email   *string
	EmailVerified *bool
	// Password is a new password, under the password policy.
	Password *string
}

// FieldAdmin and FieldDisabled name a user's flags in errors.
const (
	FieldAdmin    = "admin"
	FieldDisabled = "disabled"
)

// UserPage is one page of the users, by id.
type UserPage struct {
	Users []domain.User
	// Total counts every user; Next is the cursor of the next page, "" on
	// the last.
	Total int
	Next  string
}

// ListUsers returns one page of the users, by id.
func (a *Admin) ListUsers(ctx context.Context, p Page) (UserPage, error) {
	if a.d.Users == nil {
		return UserPage{}, ErrNotSupported
	}
	list, total, next, err := listPage(ctx, p, a.d.Users.ListUsers, func(u domain.User) string { return u.ID })
	return UserPage{Users: list, Total: total, Next: next}, err
}

// User returns the user with the given id, or ErrNoSuchUser.
func (a *Admin) User(ctx context.Context, id string) (domain.User, error) {
	if id == "" || len(id) > MaxClientIDBytes {
		return domain.User{}, ErrNoSuchUser
	}
	u, err := a.d.Accounts.users.FindUser(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, ErrNoSuchUser
	}
	return u, err
}

// CreateUser makes an account as sign-up does; ErrUsernameTaken if the
// name (in its PRECIS form) is another's. Of concurrent creations of one
// name, one succeeds.
func (a *Admin) CreateUser(ctx context.Context, by Administrator, nu NewUser) (domain.User, error) {
	return a.d.Accounts.createUser(ctx, nu.Username, nu.Password, nu.Profile, nu.Admin, "by "+by.String())
}

// UpdateUser changes a user's flags and password in one atomic step. A
// new password, or disabling, then ends everything the user held, as a
// password change does (Accounts.ChangePassword): every session, grant,
// refresh token, code and access token; a failure there is a
// PartialChange, and the same request sent again finishes it.
func (a *Admin) UpdateUser(ctx context.Context, by Administrator, id string, ch UserChange) (domain.User, error) {
	u, err := a.updateUser(ctx, id, ch)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserChanged, UserID: auditID(id)}, err, changeDetail(ch)+" by "+by.String()))
	return u, err
}

func (a *Admin) updateUser(ctx context.Context, id string, ch UserChange) (domain.User, error) {
	cur, err := a.User(ctx, id)
	if err != nil {
		return domain.User{}, err
	}
	hash := ""
	if ch.Password != nil {
		password, err := a.d.Accounts.newPassword(FieldPassword, cur.Username, *ch.Password)
		if err != nil {
			return cur, err
		}
		if hash, err = a.d.Accounts.hasher.HashPassword(ctx, password); err != nil {
			return cur, err
		}
	}
	var out domain.User
	ends := false
	err = a.d.Accounts.users.UpdateUser(ctx, id, func(u *domain.User) error {
		if ch.Admin != nil {
			u.Admin = *ch.Admin
		}
		if err := changeProfile(u, ch); err != nil {
			return err
		}
		if ch.Disabled != nil {
			// Disabling ends everything even when the user was disabled
			// already: that is how a request whose cascade failed is
			// finished by sending it again.
			ends = ends || *ch.Disabled
			u.Disabled = *ch.Disabled
		}
		if hash != "" {
			u.PasswordHash = hash
			ends = true
		}
		u.UpdatedAt = a.d.Now()
		out = *u
		return nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return cur, ErrNoSuchUser
	}
	if err != nil {
		return cur, err
	}
	if ends {
		return out, a.d.Accounts.endChanged(ctx, id)
	}
	return out, nil
}

// changeProfile applies ch's profile fields to u, under sign-up's rules.
// A new address is not known to be the person's unless ch says so.
func changeProfile(u *domain.User, ch UserChange) error {
	if ch.Name != nil {
		if err := domain.ValidateName(*ch.Name); err != nil {
			return domain.FieldErrorf(FieldName, domain.InvalidRequest, "%s", err)
		}
		u.Name = *ch.Name
	}
	if ch.Email != nil {
		if err := domain.ValidateEmail(*ch.Email); err != nil {
			return domain.FieldErrorf(FieldEmail, domain.InvalidRequest, "%s", err)
		}
		if *ch.Email != u.Email {
			u.EmailVerified = false
		}
		u.Email = *ch.Email
	}
	if ch.EmailVerified != nil {
		u.EmailVerified = *ch.EmailVerified
	}
	if u.EmailVerified && u.Email == "" {
		return domain.FieldErrorf(FieldEmail, domain.InvalidRequest, "email_verified needs an email address")
	}
	return nil
}

// changeDetail names what a change touched, for the audit trail.
func changeDetail(ch UserChange) string {
	d := ""
	add := func(s string) {
		if d != "" {
			d += ","
		}
		d += s
	}
	if ch.Admin != nil {
		add(FieldAdmin)
	}
	if ch.Disabled != nil {
		add(FieldDisabled)
	}
	if ch.Password != nil {
		add(FieldPassword)
	}
	if ch.Name != nil || ch.Email != nil || ch.EmailVerified != nil {
		add("profile")
	}
	if d == "" {
		d = "nothing"
	}
	return d
}

// DeleteUser closes an account with the cascade of Accounts.DeleteAccount,
// no password asked: every session, grant, refresh token, code and access
// token ends, then the account goes. Of concurrent deletions, one succeeds;
// the others are ErrNoSuchUser.
func (a *Admin) DeleteUser(ctx context.Context, by Administrator, id string) error {
	err := a.deleteUser(ctx, id)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserDeleted, UserID: auditID(id)}, err, "by "+by.String()))
	return err
}

func (a *Admin) deleteUser(ctx context.Context, id string) error {
	if _, err := a.User(ctx, id); err != nil {
		return err
	}
	err := a.d.Accounts.closeAccount(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return ErrNoSuchUser // another request deleted it first
	}
	return err
}
