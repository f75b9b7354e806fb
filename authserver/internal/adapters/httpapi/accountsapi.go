package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/schema"
	"github.com/oauth2ref/pkg/zaplog"
)

// The accounts and sessions API: accounts are made and closed, and
// sessions opened, looked at, extended and ended, with a bearer session
// token. Its sessions are the login page's: one model, two doors.

// AccountOpener makes accounts and opens sessions with a name and
// password.
type AccountOpener interface {
	// Signup creates an account.
	Signup(ctx context.Context, username, password string, p app.Profile) (domain.User, error)
	// OpenSession checks the name and password, under the login limits,
	// and opens a session: its bearer token and the session.
	OpenSession(ctx context.Context, at app.LoginAttempt, from app.SessionStart) (string, domain.Session, error)
}

// BearerAuthenticator finds the session behind a bearer session token.
type BearerAuthenticator interface {
	// BearerSession returns the active session behind token, presented
	// from source, under the limits on guessing tokens.
	BearerSession(ctx context.Context, token, source string) (domain.Session, error)
}

// SessionKeeper looks at, extends and ends a user's sessions.
type SessionKeeper interface {
	// SessionOf returns the caller's user's session with the given id.
	SessionOf(ctx context.Context, caller domain.Session, id string) (domain.Session, error)
	// UserSessions returns the user's active sessions, oldest first.
	UserSessions(ctx context.Context, userID string) ([]domain.Session, error)
	// ExtendSession moves a session's expiry, capped by the policy.
	ExtendSession(ctx context.Context, caller domain.Session, id string, expiresAt time.Time) (domain.Session, error)
	// EndSessionByID ends one of the caller's user's sessions.
	EndSessionByID(ctx context.Context, caller domain.Session, id string) error
	// EndAllSessions ends every session of the user.
	EndAllSessions(ctx context.Context, userID string) error
}

// AccountKeeper reads, changes and closes an account.
type AccountKeeper interface {
	// User returns the user with the given id.
	User(ctx context.Context, id string) (domain.User, error)
	// ChangePassword sets a new password and ends everything of the old.
	ChangePassword(ctx context.Context, req app.PasswordChange) error
	// DeleteAccount closes an account, the password proving it is theirs.
	DeleteAccount(ctx context.Context, userID, password, source string) error
}

// AccountsAPI is everything the API serves.
type AccountsAPI interface {
	AccountOpener
	BearerAuthenticator
	SessionKeeper
	AccountKeeper
	CookieSessions
}

type credentialsBody struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// handleCreateAccount is POST /api/accounts: 201 with the account, which
// has no session yet (POST /api/sessions opens one).
func handleCreateAccount(accounts AccountOpener, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body credentialsBody
		if err := decodeAPIBody(r, s.credentials, &body); err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		u, err := accounts.Signup(r.Context(), body.Name, body.Password, app.Profile{})
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		zaplog.SetUserID(r.Context(), u.ID)
		w.Header().Set("Location", r.URL.Path+"/"+u.ID)
		writeResult(w, http.StatusCreated, accountOf(u))
	})
}

// handleOpenSession is POST /api/sessions: the name and password are
// checked as the login page checks them, and 201 carries the session with
// its bearer token, shown this once.
func handleOpenSession(accounts AccountOpener, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body credentialsBody
		if err := decodeAPIBody(r, s.credentials, &body); err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		token, sess, err := accounts.OpenSession(r.Context(),
			app.LoginAttempt{Username: body.Name, Password: body.Password, Source: sourceOf(r)},
			app.SessionStart{Door: domain.DoorAPI, Source: clientAddr(r), UserAgent: r.UserAgent()})
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		zaplog.SetUserID(r.Context(), sess.UserID)
		out := sessionOf(sess, sess.Hash)
		out.Token = token
		w.Header().Set("Location", r.URL.Path+"/"+out.ID)
		writeResult(w, http.StatusCreated, out)
	})
}

// handleGetSession is GET /api/sessions/{id}: one of the caller's
// account's sessions.
func handleGetSession(sessions SessionKeeper, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := callerSession(r)
		sess, err := sessions.SessionOf(r.Context(), caller, chi.URLParam(r, "id"))
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, sessionOf(sess, caller.Hash))
	})
}

// handlePatchSession is PATCH /api/sessions/{id} {"expires_at"}: the
// session lives until then, or until the configured cap after it began.
func handlePatchSession(sessions SessionKeeper, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ExpiresAt string `json:"expires_at"`
		}
		if err := decodeAPIBody(r, s.sessionPatch, &body); err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		at, err := time.Parse(time.RFC3339, body.ExpiresAt)
		if err != nil {
			writeAPIError(w, r, log, domain.FieldErrorf(app.FieldExpiresAt, domain.InvalidRequest, "expires_at must be an RFC 3339 date-time"))
			return
		}
		caller := callerSession(r)
		sess, err := sessions.ExtendSession(r.Context(), caller, chi.URLParam(r, "id"), at)
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, sessionOf(sess, caller.Hash))
	})
}

// handleDeleteSession is DELETE /api/sessions/{id}: 204, the session is
// over (signing out, with the caller's own id).
func handleDeleteSession(sessions SessionKeeper, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.EndSessionByID(r.Context(), callerSession(r), chi.URLParam(r, "id")); err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		writeNoContent(w)
	})
}

// handleGetAccount is GET /api/accounts/{id}.
func handleGetAccount(accounts AccountKeeper, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := ownAccount(w, r, log, chi.URLParam(r, "id"))
		if !ok {
			return
		}
		u, err := accounts.User(r.Context(), caller.UserID)
		if err != nil {
			writeAPIError(w, r, log, accountGone(err))
			return
		}
		writeResult(w, http.StatusOK, accountOf(u))
	})
}

// handleListSessions is GET /api/accounts/{id}/sessions: every active
// session of the account, oldest first, whichever door opened it.
func handleListSessions(sessions SessionKeeper, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := ownAccount(w, r, log, chi.URLParam(r, "id"))
		if !ok {
			return
		}
		list, err := sessions.UserSessions(r.Context(), caller.UserID)
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		out := make([]sessionJSON, len(list))
		for i, s := range list {
			out[i] = sessionOf(s, caller.Hash)
		}
		writeResults(w, out)
	})
}

// handleEndSessions is DELETE /api/accounts/{id}/sessions: every session
// of the account ends, the caller's too.
func handleEndSessions(sessions SessionKeeper, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := ownAccount(w, r, log, chi.URLParam(r, "id"))
		if !ok {
			return
		}
		if err := sessions.EndAllSessions(r.Context(), caller.UserID); err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		writeNoContent(w)
	})
}

// handleChangePassword is PUT /api/accounts/{id}/password: 204, and every
// session, grant and token of the account has ended, the caller's session
// too; sign in again with the new password.
func handleChangePassword(accounts AccountKeeper, s apiSchemas, log *zap.Logger) http.Handler {
	type request struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	return accountChange(s.passwordChange, log, func(r *http.Request, caller domain.Session, body request) error {
		return accounts.ChangePassword(r.Context(), app.PasswordChange{
			UserID: caller.UserID, Current: body.Current, Updated: body.New, Source: sourceOf(r),
		})
	})
}

// handleDeleteAccount is DELETE /api/accounts/{id} {"password"}: 204, and
// the account is gone with everything it held.
func handleDeleteAccount(accounts AccountKeeper, s apiSchemas, log *zap.Logger) http.Handler {
	type request struct {
		Password string `json:"password"`
	}
	return accountChange(s.accountClose, log, func(r *http.Request, caller domain.Session, body request) error {
		return accounts.DeleteAccount(r.Context(), caller.UserID, body.Password, sourceOf(r))
	})
}

// accountChange serves a change to the caller's own account, described by
// a body of type T that passed s: 204 once change succeeds.
func accountChange[T any](s *schema.Schema, log *zap.Logger, change func(r *http.Request, caller domain.Session, body T) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := ownAccount(w, r, log, chi.URLParam(r, "id"))
		if !ok {
			return
		}
		var body T
		err := decodeAPIBody(r, s, &body)
		if err == nil {
			err = change(r, caller, body)
		}
		if err != nil {
			writeAPIError(w, r, log, err)
			return
		}
		writeNoContent(w)
	})
}

// accountGone turns an account not found behind a live session (closed
// meanwhile) into the session's refusal.
func accountGone(err error) error {
	if errors.Is(err, domain.ErrNotFound) {
		return app.ErrNoSession
	}
	return err
}
