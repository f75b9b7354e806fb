package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// A user's sessions, whichever door opened them: listed, looked up by id,
// extended and ended, from the account page (the browser's session) or the
// accounts API (a bearer session token).

// UserSessions returns the user's active sessions, oldest first.
func (a *Accounts) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	return a.sessions.ListUserSessions(ctx, userID)
}

// EndAllSessions signs the user out everywhere: every session of theirs
// ends, in every browser and program. Tokens already issued to clients
// stay; revoking those is the account page's revoke, per client, or a
// password change.
func (a *Accounts) EndAllSessions(ctx context.Context, userID string) error {
	err := a.sessions.DeleteUserSessions(ctx, userID)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditSessionsEnded, UserID: userID}, err, "sign out everywhere"))
	return err
}

// OpenSession is the accounts API's sign-in: the name and password are
// checked as the login page checks them, under the same limits, and a
// session is opened. It returns the bearer token and the session.
func (a *Accounts) OpenSession(ctx context.Context, at LoginAttempt, from SessionStart) (string, domain.Session, error) {
	at.Device = "" // a program has no device cookie
	res, err := a.Login(ctx, at)
	if err != nil {
		return "", domain.Session{}, err
	}
	return a.StartSession(ctx, res.User, from)
}

// maxSessionToken bounds a bearer token before it is hashed or looked up;
// the server makes them 43 characters long.
const maxSessionToken = 128

// ErrBadSessionToken means the bearer token names no active session.
var ErrBadSessionToken = domain.Errorf(domain.InvalidToken, "the session token is invalid or expired")

// BearerSession returns the active session behind a bearer session token
// presented from source. Tokens that name none are counted against the
// source (LimitSessionSource), before they are looked up, as password
// guesses are: a source past its free failures waits before its next
// try, with a *domain.Throttled answered as invalid_token.
func (a *Accounts) BearerSession(ctx context.Context, token, source string) (domain.Session, error) {
	res, err := a.creds.gate.admit(ctx, domain.InvalidToken, []LimitKey{limitKey(LimitSessionSource, source)}, nil)
	if err != nil {
		return domain.Session{}, err
	}
	if token == "" || len(token) > maxSessionToken {
		res.settle(ctx, domain.AttemptFailed)
		return domain.Session{}, ErrBadSessionToken
	}
	s, err := a.sessions.FindSession(ctx, HashToken(token))
	switch {
	case errors.Is(err, domain.ErrNotFound) || (err == nil && !s.Active(a.now())):
		res.settle(ctx, domain.AttemptFailed)
		return domain.Session{}, ErrBadSessionToken
	case err != nil:
		res.settle(ctx, domain.AttemptCancelled)
		return domain.Session{}, err
	}
	res.settle(ctx, domain.AttemptSucceeded)
	return s, nil
}

// ErrNoSuchSession means the user has no active session with that id.
var ErrNoSuchSession = errors.New("no such session")

// SessionOf returns the caller's user's active session with the given id:
// the caller's own, or another of the same user's (a person ends the
// session of a lost phone from their laptop). Another user's sessions are
// ErrNoSuchSession, as are ids that cannot be one.
func (a *Accounts) SessionOf(ctx context.Context, caller domain.Session, id string) (domain.Session, error) {
	if caller.ID() == id {
		return caller, nil
	}
	if len(id) != domain.SessionIDLength {
		return domain.Session{}, ErrNoSuchSession
	}
	list, err := a.sessions.ListUserSessions(ctx, caller.UserID)
	if err != nil {
		return domain.Session{}, err
	}
	for _, s := range list {
		if s.ID() == id {
			return s, nil
		}
	}
	return domain.Session{}, ErrNoSuchSession
}

// ExtendSession moves the expiry of the caller's user's session id to
// expiresAt, capped at SessionPolicy.MaxTTL after the session began. It
// returns the session as it now is. An expiry in the past is refused; one
// earlier than the current expiry shortens the session.
func (a *Accounts) ExtendSession(ctx context.Context, caller domain.Session, id string, expiresAt time.Time) (domain.Session, error) {
	s, err := a.SessionOf(ctx, caller, id)
	if err != nil {
		return domain.Session{}, err
	}
	if !expiresAt.After(a.now()) {
		return domain.Session{}, domain.FieldErrorf(FieldExpiresAt, domain.InvalidRequest, "expires_at must be in the future")
	}
	if limit := s.CreatedAt.Add(a.lives.MaxTTL); expiresAt.After(limit) {
		expiresAt = limit
	}
	err = a.sessions.ExtendSession(ctx, s.Hash, expiresAt)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditSessionChanged, UserID: s.UserID}, err, "expiry"))
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Session{}, ErrNoSuchSession // ended meanwhile
	}
	if err != nil {
		return domain.Session{}, err
	}
	s.ExpiresAt = expiresAt
	return s, nil
}

// EndSessionByID ends the caller's user's session id: the caller's own
// (signing out) or another of theirs.
func (a *Accounts) EndSessionByID(ctx context.Context, caller domain.Session, id string) error {
	s, err := a.SessionOf(ctx, caller, id)
	if err != nil {
		return err
	}
	err = a.sessions.DeleteSession(ctx, s.Hash)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditSessionsEnded, UserID: s.UserID}, err, "one session"))
	return err
}
