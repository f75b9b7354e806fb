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
}

type family struct {
	info   *shared // of the latest token; tokens that differ keep their own
	hashes []string
}

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

func (e refreshEntry) token(hash string) domain.RefreshToken {
	return domain.RefreshToken{
		Hash:      hash,
		FamilyID:  e.info.familyID,
		ClientID:  e.info.clientID,
		UserID:    e.info.userID,
		Scope:     e.info.scope,
		Status:    statuses[e.status],
		IssuedAt:  time.Unix(0, e.issued).UTC(),
		ExpiresAt: time.Unix(0, e.expires).UTC(),
		AccessTTL: e.info.accessTTL,
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
	if info == nil || info.clientID != t.ClientID || info.userID != t.UserID ||
		info.accessTTL != t.AccessTTL || !slices.Equal(info.scope, t.Scope) {
		info = &shared{familyID: t.FamilyID, clientID: t.ClientID, userID: t.UserID,
			scope: slices.Clone(t.Scope), accessTTL: t.AccessTTL}
		fam.info = info
	}
	s.refresh[t.Hash] = refreshEntry{info: info, issued: t.IssuedAt.UnixNano(), expires: t.ExpiresAt.UnixNano(), status: statusCode(t.Status)}
	fam.hashes = append(fam.hashes, t.Hash)
}

// CreateRefreshToken stores t in its family; domain.ErrConflict if its hash is
// taken.
func (s *Store) CreateRefreshToken(_ context.Context, t domain.RefreshToken) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if _, ok := s.refresh[t.Hash]; ok {
		return domain.ErrConflict
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
	return e.token(hash), nil
}

// RotateRefreshToken holds the refresh lock across read, decision and write,
// which is what makes a refresh token single-use under concurrency. The
// closure only builds a record; no hashing or signing happens under the lock.
func (s *Store) RotateRefreshToken(_ context.Context, hash string, rotate func(domain.RefreshToken) (domain.RefreshToken, error)) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	cur, ok := s.refresh[hash]
	if !ok {
		return domain.ErrNotFound
	}
	next, err := rotate(cur.token(hash))
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

// RevokeFamily marks every token of the family revoked; an unknown family is
// not an error.
func (s *Store) RevokeFamily(_ context.Context, familyID string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if fam := s.families[familyID]; fam != nil {
		s.revoke(fam.hashes)
	}
	return nil
}

// RevokeUserClientTokens revokes every refresh token clientID holds for
// userID. It walks the families, not the tokens: it runs when a user
// revokes a grant, not per request.
func (s *Store) RevokeUserClientTokens(_ context.Context, userID, clientID string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	for _, fam := range s.families {
		for _, h := range fam.hashes {
			if e, ok := s.refresh[h]; ok && e.info.userID == userID && e.info.clientID == clientID {
				e.status = statusCode(domain.RefreshRevoked)
				s.refresh[h] = e
			}
		}
	}
	return nil
}

func (s *Store) revoke(hashes []string) {
	for _, h := range hashes {
		if e, ok := s.refresh[h]; ok {
			e.status = statusCode(domain.RefreshRevoked)
			s.refresh[h] = e
		}
	}
}
