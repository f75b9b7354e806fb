package memory

import (
	"context"
	"slices"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Refresh tokens are the one group that grows with use (every rotation
// stores a token, and rotated ones stay until they expire, to catch reuse),
// so they are kept compactly: what all tokens of a family share (client,
// user, scope, access lifetime) once per family, and per token only its
// times and status. About 170 bytes a token instead of 450.

type shared struct {
	familyID  string
	clientID  string
	userID    string
	scope     domain.Scope
	accessTTL time.Duration
	authTime  int64 // Unix nanoseconds
	signIn    domain.SignIn
}

// family is what its tokens share, and its own fate: revoked is the one
// flag every token of the family reads, so revoking a family is one write
// whatever it holds, and a token added later is born revoked.
type family struct {
	info    *shared // of the latest token; tokens that differ keep their own; nil for a tombstone
	hashes  []string
	revoked bool
	// expires is when the family may be forgotten: its last token's
	// expiry, or the end of a tombstone's watch (Unix nanoseconds).
	expires int64
}

// userClient names a user's grant to a client.
type userClient struct{ user, client string }

// tombstoneTTL is how long a family revoked before it existed is
// remembered: longer than any code (and so any exchange that could still
// create it) lives.
const tombstoneTTL = 10 * time.Minute

type refreshEntry struct {
	info            *shared
	issued, expires int64 // Unix nanoseconds
	status          uint8
}

var statuses = []domain.RefreshStatus{domain.RefreshActive, domain.RefreshRotated, domain.RefreshRevoked}

func statusCode(s domain.RefreshStatus) uint8 {
	if i := slices.Index(statuses, s); i >= 0 {
		return uint8(i) //nolint:gosec // G115: i < len(statuses), which is 3
	}
	return 0
}

// token returns the entry as a domain token, revoked if its family is.
// Called with the lock held.
func (s *Store) token(hash string, e refreshEntry) domain.RefreshToken {
	status := statuses[e.status]
	if fam := s.families[e.info.familyID]; fam != nil && fam.revoked {
		status = domain.RefreshRevoked
	}
	return domain.RefreshToken{
		Hash:      hash,
		FamilyID:  e.info.familyID,
		ClientID:  e.info.clientID,
		UserID:    e.info.userID,
		Scope:     e.info.scope,
		Status:    status,
		IssuedAt:  time.Unix(0, e.issued).UTC(),
		ExpiresAt: time.Unix(0, e.expires).UTC(),
		AccessTTL: e.info.accessTTL,
		AuthTime:  time.Unix(0, e.info.authTime).UTC(),
		SignIn:    e.info.signIn,
	}
}

// put stores t, sharing its family's data when it is the same. Called with
// the lock held.
func (s *Store) put(t domain.RefreshToken) {
	fam := s.families[t.FamilyID]
	if fam == nil {
		fam = &family{}
		s.families[t.FamilyID] = fam
	}
	info := fam.info
	auth := t.AuthTime.UnixNano()
	if info == nil || info.clientID != t.ClientID || info.userID != t.UserID ||
		info.accessTTL != t.AccessTTL || info.authTime != auth || info.signIn != t.SignIn || !slices.Equal(info.scope, t.Scope) {
		info = &shared{familyID: t.FamilyID, clientID: t.ClientID, userID: t.UserID,
			scope: slices.Clone(t.Scope), accessTTL: t.AccessTTL, authTime: auth, signIn: t.SignIn}
		fam.info = info
	}
	s.refresh[t.Hash] = refreshEntry{info: info, issued: t.IssuedAt.UnixNano(), expires: t.ExpiresAt.UnixNano(), status: statusCode(t.Status)}
	fam.hashes = append(fam.hashes, t.Hash)
	fam.expires = max(fam.expires, t.ExpiresAt.UnixNano())
}

// CreateRefreshToken stores t unless its family or its user's grant to the
// client was revoked; the one lock makes the check and the write atomic.
func (s *Store) CreateRefreshToken(_ context.Context, t domain.RefreshToken) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if _, ok := s.refresh[t.Hash]; ok {
		return domain.ErrConflict
	}
	if fam := s.families[t.FamilyID]; fam != nil && fam.revoked {
		return domain.ErrRevoked
	}
	if at, ok := s.grantRevoked[userClient{t.UserID, t.ClientID}]; ok && t.UserID != "" && !t.AuthTime.After(at) {
		return domain.ErrRevoked
	}
	if at, ok := s.userRevoked[t.UserID]; ok && t.UserID != "" && !t.AuthTime.After(at) {
		return domain.ErrRevoked
	}
	s.put(t)
	return nil
}

// FindRefreshToken returns the token stored under hash, whatever its status or
// expiry, or domain.ErrNotFound.
func (s *Store) FindRefreshToken(_ context.Context, hash string) (domain.RefreshToken, error) {
	s.refreshMu.RLock()
	defer s.refreshMu.RUnlock()
	e, ok := s.refresh[hash]
	if !ok {
		return domain.RefreshToken{}, domain.ErrNotFound
	}
	return s.token(hash, e), nil
}

// RotateRefreshToken holds the refresh lock across read, decision and write,
// which is what makes a refresh token single-use under concurrency and
// orders a family revocation before or after the rotation. The closure
// builds a record and signs the access token (tens of microseconds with
// ES256 or EdDSA); nothing slower, such as a password hash, runs under the
// lock.
func (s *Store) RotateRefreshToken(_ context.Context, hash string, rotate func(domain.RefreshToken) (domain.RefreshToken, error)) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	cur, ok := s.refresh[hash]
	if !ok {
		return domain.ErrNotFound
	}
	next, err := rotate(s.token(hash, cur))
	if err != nil {
		return err
	}
	if _, dup := s.refresh[next.Hash]; dup {
		return domain.ErrConflict
	}
	cur.status = statusCode(domain.RefreshRotated)
	s.refresh[hash] = cur
	s.put(next)
	return nil
}

// RevokeFamily marks the family revoked, creating it revoked (a tombstone)
// if no token of it exists yet.
func (s *Store) RevokeFamily(_ context.Context, familyID string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	fam := s.families[familyID]
	if fam == nil {
		fam = &family{expires: s.now().Add(tombstoneTTL).UnixNano()}
		s.families[familyID] = fam
	}
	fam.revoked = true
	return nil
}

// RevokeUserClientTokens revokes every family clientID holds for userID and
// remembers the revocation, so a family authorized before it and created
// later is refused. It walks the families, not the tokens: it runs when a
// user revokes a grant, not per request.
func (s *Store) RevokeUserClientTokens(_ context.Context, userID, clientID string, at time.Time) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	key := userClient{userID, clientID}
	if prev, ok := s.grantRevoked[key]; !ok || at.After(prev) {
		s.grantRevoked[key] = at
	}
	for _, fam := range s.families {
		if fam.info != nil && fam.info.userID == userID && fam.info.clientID == clientID {
			fam.revoked = true
		}
	}
	return nil
}

// RevokeUserTokens revokes every family of the user, whatever the client,
// and remembers the revocation, so a family authorized before it and
// created later is refused (see app.UserRevoker).
func (s *Store) RevokeUserTokens(_ context.Context, userID string, at time.Time) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if prev, ok := s.userRevoked[userID]; !ok || at.After(prev) {
		s.userRevoked[userID] = at
	}
	for _, fam := range s.families {
		if fam.info != nil && fam.info.userID == userID {
			fam.revoked = true
		}
	}
	return nil
}

// RevokeClientTokens revokes every family the client holds, whoever the
// user: the client is being deleted.
func (s *Store) RevokeClientTokens(_ context.Context, clientID string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	for _, fam := range s.families {
		if fam.info != nil && fam.info.clientID == clientID {
			fam.revoked = true
		}
	}
	return nil
}
