package app

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// UserSessions returns the user's active browser sessions, oldest first.
func (a *Accounts) UserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	return a.sessions.ListUserSessions(ctx, userID)
}

// EndAllSessions signs the user out everywhere: every session of theirs
// ends, in every browser. Tokens already issued to clients stay; revoking
// those is the account page's revoke, per client.
func (a *Accounts) EndAllSessions(ctx context.Context, userID string) error {
	err := a.sessions.DeleteUserSessions(ctx, userID)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditSessionsEnded, UserID: userID}, err, "sign out everywhere"))
	return err
}
