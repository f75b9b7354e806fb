// Package memory keeps every data group in process memory: the default
// backend, with nothing to install. The data is split under several locks
// (clients with scopes; users; refresh tokens; revocations; keys; the
// browser's sessions, codes and consents; the audit trail), so that the hot
// paths (client look-up, revocation check) never wait on a write to another
// group. Expired entries are reclaimed by Sweep.
package memory

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Store is an in-memory store of all data groups.
type Store struct {
	now func() time.Time

	clientsMu sync.RWMutex // also guards scopes, which change as rarely
	clients   map[string]domain.Client
	deleted   map[string]struct{} // ids of clients deleted, never to be created again
	scopes    map[string]domain.ScopeInfo
	origins   map[string]int // allowed origin -> how many clients allow it

	usersMu   sync.RWMutex
	users     map[string]domain.User // by ID
	usernames map[string]string      // username -> ID

	refreshMu    sync.RWMutex
	refresh      map[string]refreshEntry // by hash
	families     map[string]*family      // by family id
	grantRevoked map[userClient]time.Time
	userRevoked  map[string]time.Time // by user id

	revokedMu sync.RWMutex
	revoked   map[string]revocation

	keysMu sync.Mutex
	keys   []domain.SigningKey

	browserMu    sync.RWMutex // sessions, codes and consents
	sessions     map[string]domain.Session
	userSessions map[string]map[string]struct{} // user id -> session hashes
	codes        map[string]domain.AuthorizationCode
	consents     map[consentKey]domain.Consent

	auditMu sync.Mutex
	audit   []domain.AuditEvent

	limits *Limiter
}

// New returns an empty store. now is the clock used to judge expiry.
func New(now func() time.Time, limits app.LimitPolicy) *Store {
	return &Store{
		now:          now,
		clients:      map[string]domain.Client{},
		deleted:      map[string]struct{}{},
		origins:      map[string]int{},
		users:        map[string]domain.User{},
		usernames:    map[string]string{},
		refresh:      map[string]refreshEntry{},
		families:     map[string]*family{},
		grantRevoked: map[userClient]time.Time{},
		userRevoked:  map[string]time.Time{},
		revoked:      map[string]revocation{},
		sessions:     map[string]domain.Session{},
		userSessions: map[string]map[string]struct{}{},
		codes:        map[string]domain.AuthorizationCode{},
		consents:     map[consentKey]domain.Consent{},
		limits:       NewLimiter(limits, now, 0),
	}
}

// Limiter returns the store's attempt limiter.
func (s *Store) Limiter() *Limiter { return s.limits }

// Ping always succeeds: memory is always there.
func (s *Store) Ping(context.Context) error { return nil }

// Clients.

// FindClient returns the client registered under id, or domain.ErrNotFound.
func (s *Store) FindClient(_ context.Context, id string) (domain.Client, error) {
	s.clientsMu.RLock()
	c, ok := s.clients[id]
	s.clientsMu.RUnlock()
	if !ok {
		return domain.Client{}, domain.ErrNotFound
	}
	return c, nil
}

// SaveClient creates or replaces c, keeping its own copy of c's slices.
func (s *Store) SaveClient(_ context.Context, c domain.Client) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	s.putClient(c)
	return nil
}

// putClient stores c and keeps the origin index; clientsMu is held.
func (s *Store) putClient(c domain.Client) {
	if old, ok := s.clients[c.ID]; ok {
		s.unindex(old)
	}
	c = cloneClient(c)
	s.clients[c.ID] = c
	for _, o := range c.AllowedOrigins {
		s.origins[o]++
	}
}

// unindex drops c's origins from the index; clientsMu is held.
func (s *Store) unindex(c domain.Client) {
	for _, o := range c.AllowedOrigins {
		if s.origins[o]--; s.origins[o] <= 0 {
			delete(s.origins, o)
		}
	}
}

// OriginAllowed reports whether any client allows origin, which is all a
// CORS preflight can ask: it does not say which client it is for.
func (s *Store) OriginAllowed(_ context.Context, origin string) (bool, error) {
	s.clientsMu.RLock()
	n := s.origins[origin]
	s.clientsMu.RUnlock()
	return n > 0, nil
}

// ClientOrigins returns every origin some client allows, sorted.
func (s *Store) ClientOrigins(context.Context) ([]string, error) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	return slices.Sorted(maps.Keys(s.origins)), nil
}

// SaveBatch saves scopes, clients and users in one step: a reader sees
// all of them or none, and a username that belongs to another user
// (domain.ErrConflict) saves nothing.
func (s *Store) SaveBatch(_ context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	// The users first, on a copy of the name index: a conflict is found
	// before anything changes.
	if len(users) > 0 {
		names, renamed := maps.Clone(s.usernames), map[string]string{}
		current := func(id string) (string, bool) {
			if n, ok := renamed[id]; ok {
				return n, true
			}
			return s.currentName(id)
		}
		for _, u := range users {
			if err := rename(names, current, u); err != nil {
				return err
			}
			renamed[u.ID] = u.Username
		}
	}
	for _, u := range users {
		_ = s.putUser(u) // cannot conflict: the dry run above passed
	}
	if s.scopes == nil && len(scopes) > 0 {
		s.scopes = map[string]domain.ScopeInfo{}
	}
	for _, sc := range scopes {
		s.scopes[sc.Name] = sc
	}
	for _, c := range clients {
		s.putClient(c)
	}
	return nil
}

// CreateClient stores a new client; domain.ErrConflict if its id is
// taken, or was a deleted client's.
func (s *Store) CreateClient(_ context.Context, c domain.Client) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	_, taken := s.clients[c.ID]
	_, gone := s.deleted[c.ID]
	if taken || gone {
		return domain.ErrConflict
	}
	s.putClient(c)
	return nil
}

// UpdateClient runs update on the client under the clients lock and saves
// what it leaves, unless it fails (see app.ClientRegistry).
func (s *Store) UpdateClient(_ context.Context, id string, update func(c *domain.Client) error) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return domain.ErrNotFound
	}
	c = cloneClient(c)
	if err := update(&c); err != nil {
		return err
	}
	c.ID = id
	s.putClient(c)
	return nil
}

// ListClients returns up to limit clients whose ids sort after after, by
// id, and how many clients there are in all.
func (s *Store) ListClients(_ context.Context, after string, limit int) ([]domain.Client, int, error) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]domain.Client, 0, min(limit, len(ids)))
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, cloneClient(s.clients[id]))
	}
	return out, len(s.clients), nil
}

// ListOwnedClients returns up to limit of the clients owner registered,
// by id. It looks at every client: a user's few among a registry that
// open registration bounds (registration.max_clients).
func (s *Store) ListOwnedClients(_ context.Context, owner string, limit int) ([]domain.Client, error) {
	out := []domain.Client{}
	if owner == "" {
		return out, nil
	}
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	for _, c := range s.clients {
		if c.Owner == owner {
			out = append(out, cloneClient(c))
		}
	}
	slices.SortFunc(out, func(a, b domain.Client) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(limit, len(out))], nil
}

// DeleteClient deletes the client registered under id, for good: its id
// cannot be created again. domain.ErrNotFound if there is none.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return domain.ErrNotFound
	}
	s.unindex(c)
	delete(s.clients, id)
	s.deleted[id] = struct{}{}
	return nil
}

// cloneClient copies the slices so a caller changing its copy cannot change
// the stored one.
func cloneClient(c domain.Client) domain.Client {
	c.AuthMethods = slices.Clone(c.AuthMethods)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	c.DefaultScopes = slices.Clone(c.DefaultScopes)
	c.Audience = slices.Clone(c.Audience)
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	return c
}

// Users.

// FindUserByUsername returns the user whose login name is username, or
// domain.ErrNotFound.
func (s *Store) FindUserByUsername(_ context.Context, username string) (domain.User, error) {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	id, ok := s.usernames[username]
	if !ok {
		return domain.User{}, domain.ErrNotFound
	}
	return s.users[id], nil
}

// FindUser returns the user with the given id, or domain.ErrNotFound.
func (s *Store) FindUser(_ context.Context, id string) (domain.User, error) {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return domain.User{}, domain.ErrNotFound
	}
	return u, nil
}

// SaveUser creates or updates u; ErrConflict if its username belongs to
// another user.
func (s *Store) SaveUser(_ context.Context, u domain.User) error {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	return s.putUser(u)
}

// putUser stores u and moves its name in the index; usersMu is held.
func (s *Store) putUser(u domain.User) error {
	if err := rename(s.usernames, s.currentName, u); err != nil {
		return err
	}
	s.users[u.ID] = u
	return nil
}

// UpdateUser runs update on the user under the users lock, and saves what
// it leaves unless it fails (see app.UserStore).
func (s *Store) UpdateUser(_ context.Context, id string, update func(u *domain.User) error) error {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return domain.ErrNotFound
	}
	if err := update(&u); err != nil {
		return err
	}
	u.ID = id
	return s.putUser(u)
}

// DeleteUser deletes the user and frees their name; domain.ErrNotFound if
// there is no such user.
func (s *Store) DeleteUser(_ context.Context, id string) error {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return domain.ErrNotFound
	}
	delete(s.users, id)
	if s.usernames[u.Username] == id {
		delete(s.usernames, u.Username)
	}
	return nil
}

// currentName is the stored name of the user id; usersMu is held.
func (s *Store) currentName(id string) (string, bool) {
	u, ok := s.users[id]
	return u.Username, ok
}

// ListUsers returns up to limit users whose ids sort after after, by id,
// and how many users there are in all.
func (s *Store) ListUsers(_ context.Context, after string, limit int) ([]domain.User, int, error) {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	ids := make([]string, 0, len(s.users))
	for id := range s.users {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]domain.User, 0, min(limit, len(ids)))
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, s.users[id])
	}
	return out, len(s.users), nil
}

// rename gives u's name to u in the name index names, where current says
// each user's name now, freeing its old one; ErrConflict, with nothing
// changed, if the name belongs to another user.
func rename(names map[string]string, current func(id string) (string, bool), u domain.User) error {
	if id, ok := names[u.Username]; ok && id != u.ID {
		return domain.ErrConflict
	}
	if old, ok := current(u.ID); ok && old != u.Username {
		delete(names, old)
	}
	names[u.Username] = u.ID
	return nil
}

// Revocations.

type revocation struct{ at, until time.Time }

// Revoke revokes every token carrying id issued at or before at, until until.
// Revoking an id again only ever widens its mark.
func (s *Store) Revoke(_ context.Context, id string, at, until time.Time) error {
	s.revokedMu.Lock()
	defer s.revokedMu.Unlock()
	cur := s.revoked[id]
	// Revoking again can only widen what is revoked, never narrow it.
	if at.After(cur.at) {
		cur.at = at
	}
	if until.After(cur.until) {
		cur.until = until
	}
	s.revoked[id] = cur
	return nil
}

// Revoked reports whether a token issued at iat and carrying any of ids is
// revoked by a mark still in force.
func (s *Store) Revoked(_ context.Context, iat time.Time, ids ...string) (bool, error) {
	now := s.now()
	s.revokedMu.RLock()
	defer s.revokedMu.RUnlock()
	for _, id := range ids {
		if id == "" {
			continue
		}
		if r, ok := s.revoked[id]; ok && now.Before(r.until) && !iat.After(r.at) {
			return true, nil
		}
	}
	return false, nil
}

// Signing keys.

// SigningKeys returns a copy of every key, retired ones included.
func (s *Store) SigningKeys(context.Context) ([]domain.SigningKey, error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return slices.Clone(s.keys), nil
}

// AddSigningKey adds keys and retires every other key still signing, as
// of their CreatedAt.
func (s *Store) AddSigningKey(_ context.Context, keys ...domain.SigningKey) error {
	if len(keys) == 0 {
		return nil
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	for i := range s.keys {
		if s.keys[i].RetiredAt.IsZero() {
			s.keys[i].RetiredAt = keys[0].CreatedAt
		}
	}
	s.keys = append(s.keys, keys...)
	return nil
}

// DeleteSigningKeys removes the keys retired before retiredBefore.
func (s *Store) DeleteSigningKeys(_ context.Context, retiredBefore time.Time) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	s.keys = slices.DeleteFunc(s.keys, func(k domain.SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.RetiredAt.Before(retiredBefore)
	})
	return nil
}

// Sweep deletes what has expired: refresh tokens past their expiry (an
// expired token is refused whatever its status, so its record has no more
// use), revocations past the last token they cover, and stale limiter
// counters. It takes each lock in turn, briefly, never two at once.
func (s *Store) Sweep(context.Context) error {
	now := s.now()

	s.refreshMu.Lock()
	for id, fam := range s.families {
		kept := fam.hashes[:0]
		for _, h := range fam.hashes {
			if e, ok := s.refresh[h]; ok && now.UnixNano() < e.expires {
				kept = append(kept, h)
				continue
			}
			delete(s.refresh, h)
		}
		fam.hashes = kept
		if len(kept) == 0 && now.UnixNano() >= fam.expires {
			delete(s.families, id)
		}
	}
	for k, at := range s.grantRevoked {
		// Only an exchange of a code issued before the revocation can still
		// be refused by it, and codes live at most MaxCodeTTL.
		if now.Sub(at) > tombstoneTTL {
			delete(s.grantRevoked, k)
		}
	}
	for k, at := range s.userRevoked {
		if now.Sub(at) > tombstoneTTL {
			delete(s.userRevoked, k)
		}
	}
	s.refreshMu.Unlock()

	s.revokedMu.Lock()
	for id, r := range s.revoked {
		if !now.Before(r.until) {
			delete(s.revoked, id)
		}
	}
	s.revokedMu.Unlock()

	s.browserMu.Lock()
	for h, sess := range s.sessions {
		if !sess.Active(now) {
			s.dropSession(h)
		}
	}
	for h, c := range s.codes {
		// A redeemed code is kept until it expires, so a replay within its
		// life is recognised and revokes what the code produced.
		if !now.Before(c.ExpiresAt) {
			delete(s.codes, h)
		}
	}
	s.browserMu.Unlock()

	s.limits.sweep()
	return nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Scopes.

// SaveScope creates or replaces the scope named sc.Name.
func (s *Store) SaveScope(_ context.Context, sc domain.ScopeInfo) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.scopes == nil {
		s.scopes = map[string]domain.ScopeInfo{}
	}
	s.scopes[sc.Name] = sc
	return nil
}

// ListScopes returns every scope, by name.
func (s *Store) ListScopes(context.Context) ([]domain.ScopeInfo, error) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	out := make([]domain.ScopeInfo, 0, len(s.scopes))
	for _, sc := range s.scopes {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b domain.ScopeInfo) int { return compare(a.Name, b.Name) })
	return out, nil
}
