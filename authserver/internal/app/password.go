package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// PasswordChange is a request to change a user's password: the current one
// proves it is theirs (a session alone, perhaps left open on a shared
// computer, is not enough).
type PasswordChange struct {
	UserID           string
	Current, Updated string
	// Source is where the request comes from, for the limits on guessing
	// the current password.
	Source string
}

var (
	errWrongCurrentPassword = domain.FieldErrorf(FieldCurrentPassword, domain.AccessDenied, "the current password is wrong")
	// ErrChangedMeanwhile means another request changed the password between
	// this one's check of the current password and its write.
	ErrChangedMeanwhile = domain.FieldErrorf(FieldCurrentPassword, domain.InvalidRequest, "the password was changed by another request meanwhile")
)

// ChangePassword sets a new password, then takes down everything the old
// one let anyone have: every session (the caller's too), every grant and
// refresh token of the account, and every access token issued to it,
// password-grant tokens included (see userEnds).
//
// Of concurrent changes that proved the same current password, exactly one
// wins: the write checks that the stored hash is still the one verified;
// the others are ErrChangedMeanwhile and change nothing.
//
// A sign-in that checked the old password just before the write is covered
// too: the password grant stamps its tokens with a time taken before its
// check, the login page and the API re-read the user once their session is
// stored (StartSession), and the revocations below are stamped after the
// write. Access tokens carry their issue time in whole seconds, so the
// mark covers the whole second of the change, and the answer waits until
// that second is over: a token issued with the new password after the
// answer is never covered.
//
// If the write succeeded but a revocation failed, the error says so; the
// same request sent again with the new password as the current one
// completes it.
func (a *Accounts) ChangePassword(ctx context.Context, req PasswordChange) error {
	err := a.changePassword(ctx, req)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserChanged, UserID: req.UserID}, err, "password"))
	return err
}

func (a *Accounts) changePassword(ctx context.Context, req PasswordChange) error {
	user, err := a.verify(ctx, req.UserID, req.Current, req.Source, errWrongCurrentPassword)
	if err != nil {
		return err
	}
	password, err := a.newPassword(FieldNewPassword, user.Username, req.Updated)
	if err != nil {
		return err
	}
	hash, err := a.hasher.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	err = a.users.UpdateUser(ctx, user.ID, func(u *domain.User) error {
		if u.PasswordHash != user.PasswordHash {
			return ErrChangedMeanwhile
		}
		u.PasswordHash, u.UpdatedAt = hash, a.now()
		return nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return ErrNoSession // the account was closed meanwhile
	}
	if err != nil {
		return err
	}
	return a.endChanged(ctx, user.ID)
}

// endChanged takes down everything a user held once their password or
// standing changed: every session, grant, refresh token, code and access
// token issued up to the change, which has happened. The mark covers the
// whole second of the change, and the answer waits until that second is
// over (see ChangePassword). A failure is a PartialChange.
func (a *Accounts) endChanged(ctx context.Context, userID string) error {
	// The change has happened: the caller leaving must not stop the rest
	// half way.
	ctx = context.WithoutCancel(ctx)
	changed := a.now()
	second := changed.Truncate(time.Second).Add(time.Second)
	if err := a.ends.end(ctx, userID, changed, second.Add(-time.Microsecond)); err != nil {
		return &PartialChange{Err: err}
	}
	if d := second.Sub(a.now()); d > 0 {
		a.wait(d)
	}
	return nil
}

// PartialChange means the password (or the user's standing) was changed,
// but not everything it let anyone have could be taken down; Err says why
// (an outage, usually).
type PartialChange struct{ Err error }

func (e *PartialChange) Error() string {
	return "the password was changed, but ending its sessions and tokens failed: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *PartialChange) Unwrap() error { return e.Err }

// verify checks that password is the current password of the user with the
// given id, under the limits on guessing it (per account, and per account
// and source), and returns the user as read. A wrong password is wrong;
// a user that is gone is ErrNoSession (their session is a leftover).
func (a *Accounts) verify(ctx context.Context, userID, password, source string, wrong error) (domain.User, error) {
	u, err := a.users.FindUser(ctx, userID)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, ErrNoSession
	}
	if err != nil {
		return domain.User{}, err
	}
	if password == "" {
		return domain.User{}, wrong
	}
	checked, err := a.creds.check(ctx, u.Username, password, passwordKeys(u.Username, source))
	switch {
	case errors.Is(err, errBadCredentials):
		if _, ferr := a.users.FindUser(ctx, userID); errors.Is(ferr, domain.ErrNotFound) {
			return domain.User{}, ErrNoSession // closed while the password was checked
		}
		return domain.User{}, wrong
	case err != nil:
		return domain.User{}, err
	case checked.ID != u.ID:
		return domain.User{}, wrong // renamed and the name reused meanwhile
	}
	return checked, nil
}
