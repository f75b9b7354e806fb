package memory

import (
	"context"
	"slices"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Sessions.

// CreateSession stores sess under its hash, replacing any session stored there.
func (s *Store) CreateSession(_ context.Context, sess domain.Session) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	s.dropSession(sess.Hash)
	s.sessions[sess.Hash] = sess
	hashes := s.userSessions[sess.UserID]
	if hashes == nil {
		hashes = map[string]struct{}{}
		s.userSessions[sess.UserID] = hashes
	}
	hashes[sess.Hash] = struct{}{}
	return nil
}

// dropSession deletes the session under hash and its entry in the user's
// index. Called with browserMu held.
func (s *Store) dropSession(hash string) {
	sess, ok := s.sessions[hash]
	if !ok {
		return
	}
	delete(s.sessions, hash)
	if hashes := s.userSessions[sess.UserID]; hashes != nil {
		delete(hashes, hash)
		if len(hashes) == 0 {
			delete(s.userSessions, sess.UserID)
		}
	}
}

// FindSession returns the session stored under hash, expired or not, or
// domain.ErrNotFound.
func (s *Store) FindSession(_ context.Context, hash string) (domain.Session, error) {
	s.browserMu.RLock()
	defer s.browserMu.RUnlock()
	sess, ok := s.sessions[hash]
	if !ok {
		return domain.Session{}, domain.ErrNotFound
	}
	return sess, nil
}

// DeleteSession deletes the session stored under hash, if there is one.
func (s *Store) DeleteSession(_ context.Context, hash string) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	s.dropSession(hash)
	return nil
}

// ExtendSession sets the expiry of an active session under the lock;
// domain.ErrNotFound if it is gone or expired.
func (s *Store) ExtendSession(_ context.Context, hash string, expiresAt time.Time) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	sess, ok := s.sessions[hash]
	if !ok || !sess.Active(s.now()) {
		return domain.ErrNotFound
	}
	sess.ExpiresAt = expiresAt
	s.sessions[hash] = sess
	return nil
}

// ListUserSessions returns the user's active sessions, oldest first.
func (s *Store) ListUserSessions(_ context.Context, userID string) ([]domain.Session, error) {
	now := s.now()
	s.browserMu.RLock()
	defer s.browserMu.RUnlock()
	out := []domain.Session{}
	for h := range s.userSessions[userID] {
		if sess := s.sessions[h]; sess.Active(now) {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, compareSessions)
	return out, nil
}

// compareSessions orders sessions oldest first, then by hash.
func compareSessions(a, b domain.Session) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return compare(a.Hash, b.Hash)
}

// DeleteUserSessions deletes every session of the user.
func (s *Store) DeleteUserSessions(_ context.Context, userID string) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	for h := range s.userSessions[userID] {
		delete(s.sessions, h)
	}
	delete(s.userSessions, userID)
	return nil
}

// Authorization codes.

// CreateCode stores c; domain.ErrConflict if its hash is taken.
func (s *Store) CreateCode(_ context.Context, c domain.AuthorizationCode) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	if _, ok := s.codes[c.Hash]; ok {
		return domain.ErrConflict
	}
	s.codes[c.Hash] = c
	return nil
}

// FindCode returns the code as it is.
func (s *Store) FindCode(_ context.Context, hash string) (domain.AuthorizationCode, error) {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	c, ok := s.codes[hash]
	if !ok {
		return domain.AuthorizationCode{}, domain.ErrNotFound
	}
	return c, nil
}

// ClaimCode grants the claim if the code is Claimable; the lock makes the
// read and the write one step.
func (s *Store) ClaimCode(_ context.Context, hash, attempt string, until time.Time) (domain.AuthorizationCode, bool, error) {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	c, ok := s.codes[hash]
	if !ok {
		return domain.AuthorizationCode{}, false, domain.ErrNotFound
	}
	if !c.Claimable(attempt, s.now()) {
		return c, false, nil
	}
	claimed := c
	claimed.ClaimedBy, claimed.ClaimedUntil = attempt, until
	s.codes[hash] = claimed
	return c, true, nil
}

// SettleCode ends attempt's claim under the lock (see app.CodeStore).
func (s *Store) SettleCode(_ context.Context, hash, attempt string, used bool) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	c, ok := s.codes[hash]
	held := ok && c.ClaimedBy == attempt
	switch {
	case used && (!held || c.Replayed):
		return domain.ErrClaimLost
	case used:
		c.Used = true
	case !held || c.Used:
		return nil
	default:
		c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
	}
	s.codes[hash] = c
	return nil
}

// MarkCodeReplayed marks the code replayed; a missing code is fine.
func (s *Store) MarkCodeReplayed(_ context.Context, hash string) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	if c, ok := s.codes[hash]; ok {
		c.Replayed = true
		s.codes[hash] = c
	}
	return nil
}

// Consents.

type consentKey struct{ user, client string }

// FindConsent returns the user's consent to the client, or domain.ErrNotFound.
func (s *Store) FindConsent(_ context.Context, userID, clientID string) (domain.Consent, error) {
	s.browserMu.RLock()
	defer s.browserMu.RUnlock()
	c, ok := s.consents[consentKey{userID, clientID}]
	if !ok {
		return domain.Consent{}, domain.ErrNotFound
	}
	return c, nil
}

// SaveConsent creates or replaces the user's consent to the client.
func (s *Store) SaveConsent(_ context.Context, c domain.Consent) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	c.Scope = slices.Clone(c.Scope)
	s.consents[consentKey{c.UserID, c.ClientID}] = c
	return nil
}

// ListConsents returns the user's consents, by client id.
func (s *Store) ListConsents(_ context.Context, userID string) ([]domain.Consent, error) {
	s.browserMu.RLock()
	defer s.browserMu.RUnlock()
	var out []domain.Consent
	for k, c := range s.consents {
		if k.user == userID {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b domain.Consent) int { return compare(a.ClientID, b.ClientID) })
	return out, nil
}

// DeleteConsent deletes the user's consent to the client, if there is one.
func (s *Store) DeleteConsent(_ context.Context, userID, clientID string) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	delete(s.consents, consentKey{userID, clientID})
	return nil
}

// DeleteClientConsents deletes every user's consent to the client.
func (s *Store) DeleteClientConsents(_ context.Context, clientID string) error {
	s.browserMu.Lock()
	defer s.browserMu.Unlock()
	for k := range s.consents {
		if k.client == clientID {
			delete(s.consents, k)
		}
	}
	return nil
}

// Audit: memory keeps a bounded ring of recent events; the durable audit
// trail is PostgreSQL's, or the JSON log's.

const auditKeep = 1000

// Record appends e to the ring, dropping the oldest event beyond the last 1000.
func (s *Store) Record(_ context.Context, e domain.AuditEvent) error {
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	s.audit = append(s.audit, e)
	if len(s.audit) > auditKeep {
		s.audit = slices.Delete(s.audit, 0, len(s.audit)-auditKeep)
	}
	return nil
}

// RecentAudit returns up to limit of the latest events, newest first.
func (s *Store) RecentAudit(_ context.Context, limit int) ([]domain.AuditEvent, error) {
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	out := make([]domain.AuditEvent, 0, min(limit, len(s.audit)))
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, s.audit[i])
	}
	return out, nil
}
