package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

var errWrongPassword = domain.FieldErrorf(FieldPassword, domain.AccessDenied, "the password is wrong")

// DeleteAccount closes a user's account, the password proving it is
// theirs: every session, grant, refresh token, outstanding code and access
// token of the account ends with it, and every client the user registered
// on the developer pages with everything it holds; then the account goes.
//
// Everything is revoked before the account is deleted, so a failure half
// way leaves an account that still exists, signed out and with nothing
// issued, and the request can be sent again. The revocations are stamped
// ahead, up to the longest a session may live: whatever a sign-in that
// raced the deletion may still produce for this user id (a code from a
// session it opened, a token from a password it checked) is refused too.
// The sessions are ended again once the account is gone, for one such
// sign-in that stored its session in between (see StartSession), and so
// are the user's clients, for one registered in between (see
// Developer.Register, which checks the account after it made the client).
//
// Of concurrent deletions, one succeeds; the others find no account
// (ErrNoSession, or domain.ErrNotFound at the last step).
func (a *Accounts) DeleteAccount(ctx context.Context, userID, password, source string) error {
	err := a.deleteAccount(ctx, userID, password, source)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserDeleted, UserID: userID}, err, "by its owner"))
	return err
}

func (a *Accounts) deleteAccount(ctx context.Context, userID, password, source string) error {
	user, err := a.verify(ctx, userID, password, source, errWrongPassword)
	if err != nil {
		return err
	}
	err = a.closeAccount(ctx, user.ID)
	if errors.Is(err, domain.ErrNotFound) {
		return ErrNoSession // another request deleted it first
	}
	return err
}

// closeAccount ends everything the user holds, then deletes the account:
// the cascade of DeleteAccount, whoever asked for it. domain.ErrNotFound
// if the account was gone by the last step.
func (a *Accounts) closeAccount(ctx context.Context, userID string) error {
	ctx = context.WithoutCancel(ctx) // begun, it runs to the end or to an error
	ahead := a.now().Add(a.lives.MaxTTL)
	if err := a.ends.end(ctx, userID, ahead, ahead); err != nil {
		return err
	}
	if err := a.endOwnedClients(ctx, userID); err != nil {
		return err
	}
	if err := a.users.DeleteUser(ctx, userID); err != nil {
		return err
	}
	if err := a.sessions.DeleteUserSessions(ctx, userID); err != nil {
		return err
	}
	return a.endOwnedClients(ctx, userID)
}

// endOwnedClients deletes every client the user registered.
func (a *Accounts) endOwnedClients(ctx context.Context, userID string) error {
	if a.owned == nil {
		return nil
	}
	return a.clients.endOwned(ctx, a.owned, userID, a.audit, "with its owner's account")
}
