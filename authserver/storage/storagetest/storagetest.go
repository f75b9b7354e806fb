// Package storagetest is the one behavioural test suite every storage
// backend runs. A backend's own test supplies a constructor and calls the Run
// functions for the data groups it holds; a behaviour is written once here.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Clock is a settable clock shared by a store and its test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed, whole-second time.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time; pass c.Now to the store as its clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// ClientStore is what a client backend offers: the fixtures' upsert and
// the admin use cases' registry.
type ClientStore interface {
	app.ClientRegistry
	app.OwnedClients
	// SaveClient creates or replaces c.
	SaveClient(ctx context.Context, c domain.Client) error
	// OriginAllowed reports whether any client allows origin.
	OriginAllowed(ctx context.Context, origin string) (bool, error)
	// ClientOrigins returns every origin some client allows, each once.
	ClientOrigins(ctx context.Context) ([]string, error)
}

// BatchStore is a backend holding clients, scopes and users that saves a
// fixture load in one step.
type BatchStore interface {
	ClientStore
	UserStore
	// ListScopes returns every scope, by name.
	ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
	// SaveBatch saves every record, or none.
	SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error
}

// UserStore is what a user backend offers.
type UserStore interface {
	app.UserFinder
	app.UserDirectory
	// FindUser returns the user with the given id, or domain.ErrNotFound.
	FindUser(ctx context.Context, id string) (domain.User, error)
	// SaveUser creates or updates u; domain.ErrConflict if its username belongs
	// to another user.
	SaveUser(ctx context.Context, u domain.User) error
	// UpdateUser runs update on the user as one atomic step (app.UserStore).
	UpdateUser(ctx context.Context, id string, update func(u *domain.User) error) error
	// DeleteUser deletes the user; domain.ErrNotFound if there is none.
	DeleteUser(ctx context.Context, id string) error
}

func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

// RunClients tests a client store.
func RunClients(t *testing.T, newStore func(t *testing.T) ClientStore) {
	ctx := context.Background()
	t.Run("save find list delete", func(t *testing.T) {
		s := newStore(t)
		id := uniq("client")
		c := domain.Client{ //nolint:gosec // G101: a placeholder hash, not a secret
			ID: id, Name: "Demo", Type: domain.Confidential, SecretHash: "$hmac-sha256$x$y",
			AuthMethods:  []domain.AuthMethod{domain.ClientSecretBasic, domain.ClientSecretPost},
			GrantTypes:   []domain.GrantType{domain.GrantPassword, domain.GrantRefreshToken},
			RedirectURIs: []string{"http://localhost/cb"},
			Scopes:       domain.NewScope("a", "b"), DefaultScopes: domain.NewScope("a"),
			Audience:       []string{"rs"},
			AccessTokenTTL: 5 * time.Second, RefreshTokenTTL: time.Hour,
			Introspection: true, AllowPlainPKCE: true, PKCEOptional: true,
			RateLimit:      domain.RateLimit{PerSecond: 2.5, Burst: 7},
			AllowedOrigins: []string{"http://localhost", "https://app.example"},
			ManagedBy:      domain.ManagedByAdmin,
			IDTokenAlg:     "ES256", PostLogoutRedirectURIs: []string{"http://localhost/", "https://app.example/bye"},
			CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		require.NoError(t, s.SaveClient(ctx, c))
		got, err := s.FindClient(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, c, got)

		c.Name = "Renamed"
		c.Scopes = domain.NewScope("a")
		c.IDTokenAlg, c.PostLogoutRedirectURIs = "", nil
		require.NoError(t, s.SaveClient(ctx, c), "save is an upsert")
		got, err = s.FindClient(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "Renamed", got.Name)
		assert.Equal(t, domain.NewScope("a"), got.Scopes)
		assert.Empty(t, got.IDTokenAlg, "the ID token algorithm goes back to the default")
		assert.Empty(t, got.PostLogoutRedirectURIs)

		all, _, err := s.ListClients(ctx, "", 100)
		require.NoError(t, err)
		assert.Contains(t, ids(all), id)

		require.NoError(t, s.DeleteClient(ctx, id))
		_, err = s.FindClient(ctx, id)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, s.DeleteClient(ctx, id), domain.ErrNotFound)
	})
	t.Run("administration", func(t *testing.T) { runClientAdmin(t, newStore) })
	t.Run("registration: owners and registration tokens", func(t *testing.T) { runClientOwners(t, newStore(t)) })
	t.Run("unknown client", func(t *testing.T) {
		_, err := newStore(t).FindClient(ctx, uniq("nobody"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("allowed origins of all clients", func(t *testing.T) {
		s := newStore(t)
		o1, o2, o3 := "https://"+uniq("one")+".example", "https://"+uniq("two")+".example", "https://"+uniq("three")+".example"
		allowed := func(o string) bool {
			t.Helper()
			ok, err := s.OriginAllowed(ctx, o)
			require.NoError(t, err)
			return ok
		}
		a := domain.Client{ID: uniq("a"), Name: "A", Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone}, AllowedOrigins: []string{o1, o2}}
		b := domain.Client{ID: uniq("b"), Name: "B", Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone}, AllowedOrigins: []string{o2}}
		require.NoError(t, s.SaveClient(ctx, a))
		require.NoError(t, s.SaveClient(ctx, b))
		assert.True(t, allowed(o1))
		assert.True(t, allowed(o2))
		assert.False(t, allowed(o3))
		all, err := s.ClientOrigins(ctx)
		require.NoError(t, err)
		assert.Subset(t, all, []string{o1, o2})
		assert.NotContains(t, all, o3)

		a.AllowedOrigins = []string{o3}
		require.NoError(t, s.SaveClient(ctx, a))
		assert.False(t, allowed(o1), "a client's old origins go with its update")
		assert.True(t, allowed(o2), "still b's")
		assert.True(t, allowed(o3))
		require.NoError(t, s.DeleteClient(ctx, b.ID))
		assert.False(t, allowed(o2), "and with its deletion")
	})
}

// RunBatch tests SaveBatch: every record saved, or none.
func RunBatch(t *testing.T, newStore func(t *testing.T) BatchStore) {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := func(id string) domain.Client {
		return domain.Client{ID: id, Name: id, Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone},
			AllowedOrigins: []string{"https://" + id + ".example"}, CreatedAt: at, UpdatedAt: at}
	}
	user := func(id, name string) domain.User {
		return domain.User{ID: id, Username: name, PasswordHash: "$argon2id$x", //nolint:gosec // G101: a placeholder hash
			Name: "Batch Person", Email: name + "@example.com", EmailVerified: true, CreatedAt: at, UpdatedAt: at}
	}
	t.Run("all saved", func(t *testing.T) {
		s := newStore(t)
		c1, c2 := client(uniq("c1")), client(uniq("c2"))
		u := user(uniq("u"), uniq("name"))
		scope := domain.ScopeInfo{Name: uniq("scope"), Description: "S"}
		require.NoError(t, s.SaveBatch(ctx, []domain.ScopeInfo{scope}, []domain.Client{c1, c2}, []domain.User{u}))
		for _, c := range []domain.Client{c1, c2} {
			got, err := s.FindClient(ctx, c.ID)
			require.NoError(t, err)
			assert.Equal(t, c, got)
			ok, err := s.OriginAllowed(ctx, c.AllowedOrigins[0])
			require.NoError(t, err)
			assert.True(t, ok)
		}
		got, err := s.FindUserByUsername(ctx, u.Username)
		require.NoError(t, err)
		assert.Equal(t, u, got)
		scopes, err := s.ListScopes(ctx)
		require.NoError(t, err)
		assert.Contains(t, scopes, scope)

		// An update and a rename in the same step.
		c1.Name = "Renamed"
		old := u.Username
		u.Username = uniq("renamed")
		require.NoError(t, s.SaveBatch(ctx, nil, []domain.Client{c1}, []domain.User{u}))
		gotC, err := s.FindClient(ctx, c1.ID)
		require.NoError(t, err)
		assert.Equal(t, "Renamed", gotC.Name)
		_, err = s.FindUserByUsername(ctx, old)
		assert.ErrorIs(t, err, domain.ErrNotFound, "the old name is free")
		require.NoError(t, s.SaveBatch(ctx, nil, nil, nil), "an empty batch")
	})
	t.Run("a taken username saves nothing", func(t *testing.T) {
		s := newStore(t)
		owner := user(uniq("owner"), uniq("taken"))
		require.NoError(t, s.SaveUser(ctx, owner))
		c := client(uniq("c"))
		fresh := user(uniq("fresh"), uniq("fresh"))
		thief := user(uniq("thief"), owner.Username)
		scope := domain.ScopeInfo{Name: uniq("scope"), Description: "S"}
		err := s.SaveBatch(ctx, []domain.ScopeInfo{scope}, []domain.Client{c}, []domain.User{fresh, thief})
		require.ErrorIs(t, err, domain.ErrConflict)

		_, err = s.FindClient(ctx, c.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound, "the client was not saved")
		ok, err := s.OriginAllowed(ctx, c.AllowedOrigins[0])
		require.NoError(t, err)
		assert.False(t, ok, "nor its origin")
		_, err = s.FindUserByUsername(ctx, fresh.Username)
		assert.ErrorIs(t, err, domain.ErrNotFound, "nor the user before the conflict")
		scopes, err := s.ListScopes(ctx)
		require.NoError(t, err)
		assert.NotContains(t, scopes, scope, "nor the scope")
		got, err := s.FindUserByUsername(ctx, owner.Username)
		require.NoError(t, err)
		assert.Equal(t, owner.ID, got.ID, "the name stays its owner's")
	})
}

func ids(cs []domain.Client) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// RunUsers tests a user store.
func RunUsers(t *testing.T, newStore func(t *testing.T) UserStore) {
	ctx := context.Background()
	t.Run("save and find by id and username", func(t *testing.T) {
		s := newStore(t)
		u := domain.User{ID: uniq("u"), Username: uniq("alice"), PasswordHash: "$argon2id$x", //nolint:gosec // G101: a placeholder hash
			Name: "Alice Exämple", Email: "alice@example.com", EmailVerified: true,
			CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		require.NoError(t, s.SaveUser(ctx, u))
		got, err := s.FindUserByUsername(ctx, u.Username)
		require.NoError(t, err)
		assert.Equal(t, u, got)
		got, err = s.FindUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got)

		old := u.Username
		u.Username = uniq("alice2")
		u.Name, u.Email, u.EmailVerified = "", "", false
		require.NoError(t, s.SaveUser(ctx, u), "rename")
		_, err = s.FindUserByUsername(ctx, old)
		assert.ErrorIs(t, err, domain.ErrNotFound, "the old name is free again")
		got, err = s.FindUserByUsername(ctx, u.Username)
		require.NoError(t, err)
		assert.Equal(t, u, got, "the profile is saved with the rest, cleared too")
	})
	t.Run("username taken", func(t *testing.T) {
		s := newStore(t)
		name := uniq("bob")
		require.NoError(t, s.SaveUser(ctx, domain.User{ID: uniq("u1"), Username: name, PasswordHash: "h"}))
		err := s.SaveUser(ctx, domain.User{ID: uniq("u2"), Username: name, PasswordHash: "h"})
		assert.ErrorIs(t, err, domain.ErrConflict)
	})
	t.Run("race: two saves of one new user both succeed", func(t *testing.T) {
		// Two replicas loading the same fixtures into an empty database.
		s := newStore(t)
		for round := 0; round < 50; round++ {
			u := domain.User{ID: uniq("u"), Username: uniq("fixture-user"), PasswordHash: "$argon2id$x", //nolint:gosec // G101: a placeholder hash, not a secret
				CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = s.SaveUser(ctx, u) }()
			}
			wg.Wait()
			require.NoError(t, errs[0], "round %d", round)
			require.NoError(t, errs[1], "round %d", round)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		s := newStore(t)
		_, err := s.FindUserByUsername(ctx, uniq("nobody"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = s.FindUser(ctx, uniq("nobody"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, s.UpdateUser(ctx, uniq("nobody"), func(*domain.User) error { return nil }), domain.ErrNotFound)
		assert.ErrorIs(t, s.DeleteUser(ctx, uniq("nobody")), domain.ErrNotFound)
	})
	t.Run("update and delete", func(t *testing.T) { runUserUpdates(t, newStore(t)) })
	t.Run("admin and disabled flags", func(t *testing.T) { runUserFlags(t, newStore(t)) })
	t.Run("listed a page at a time", func(t *testing.T) { runListUsers(t, newStore(t)) })
	t.Run("race: of 50 updates from one hash exactly one wins", func(t *testing.T) { runUserUpdateRace(t, newStore(t)) })
	t.Run("race: of 50 deletions exactly one succeeds", func(t *testing.T) {
		s := newStore(t)
		u := domain.User{ID: uniq("u"), Username: uniq("gone"), PasswordHash: "h"}
		require.NoError(t, s.SaveUser(ctx, u))
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = s.DeleteUser(ctx, u.ID) }()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				require.ErrorIs(t, err, domain.ErrNotFound)
			}
		}
		assert.Equal(t, 1, won)
	})
}

func runUserUpdates(t *testing.T, s UserStore) {
	ctx := context.Background()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := domain.User{ID: uniq("u"), Username: uniq("carol"), PasswordHash: "old", Name: "Carol", CreatedAt: day, UpdatedAt: day}
	require.NoError(t, s.SaveUser(ctx, u))

	refused := errors.New("refused")
	err := s.UpdateUser(ctx, u.ID, func(cur *domain.User) error {
		assert.Equal(t, u, *cur, "the closure sees the stored record")
		cur.PasswordHash = "never saved"
		return refused
	})
	assert.ErrorIs(t, err, refused)
	got, err := s.FindUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got, "a refused update changes nothing")

	require.NoError(t, s.UpdateUser(ctx, u.ID, func(cur *domain.User) error {
		cur.PasswordHash, cur.UpdatedAt = "new", day.Add(time.Hour)
		cur.Name, cur.Email, cur.EmailVerified = "Carol C.", "carol@example.org", true
		cur.ID = "ignored"
		return nil
	}))
	want := u
	want.PasswordHash, want.UpdatedAt = "new", day.Add(time.Hour)
	want.Name, want.Email, want.EmailVerified = "Carol C.", "carol@example.org", true
	got, err = s.FindUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = s.FindUser(ctx, "ignored")
	assert.ErrorIs(t, err, domain.ErrNotFound, "the id is not the closure's to change")

	other := domain.User{ID: uniq("u"), Username: uniq("dave"), PasswordHash: "h"}
	require.NoError(t, s.SaveUser(ctx, other))
	err = s.UpdateUser(ctx, u.ID, func(cur *domain.User) error { cur.Username = other.Username; return nil })
	assert.ErrorIs(t, err, domain.ErrConflict, "another's name")
	got, err = s.FindUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	require.NoError(t, s.DeleteUser(ctx, u.ID))
	_, err = s.FindUser(ctx, u.ID)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.FindUserByUsername(ctx, u.Username)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	assert.ErrorIs(t, s.DeleteUser(ctx, u.ID), domain.ErrNotFound, "deleting twice")
	require.NoError(t, s.SaveUser(ctx, domain.User{ID: uniq("u"), Username: u.Username, PasswordHash: "h"}), "the name is free again")
	got, err = s.FindUser(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, other.Username, got.Username, "other users stay")
}

// runUserUpdateRace runs 50 concurrent updates that each change the hash
// only if it is still the one they read, as a password change does: one
// wins, the others see its hash.
func runUserUpdateRace(t *testing.T, s UserStore) {
	ctx := context.Background()
	u := domain.User{ID: uniq("u"), Username: uniq("erin"), PasswordHash: "start"}
	require.NoError(t, s.SaveUser(ctx, u))
	lost := errors.New("changed meanwhile")
	errs := make([]error, 50)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UpdateUser(ctx, u.ID, func(cur *domain.User) error {
				if cur.PasswordHash != "start" {
					return lost
				}
				cur.PasswordHash = fmt.Sprintf("winner-%d", i)
				return nil
			})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two winners")
			winner = i
		} else {
			require.ErrorIs(t, err, lost)
		}
	}
	require.NotEqual(t, -1, winner, "one winner")
	got, err := s.FindUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("winner-%d", winner), got.PasswordHash)
}

func refreshToken(family string, clock *Clock) domain.RefreshToken {
	now := clock.Now()
	return domain.RefreshToken{
		Hash: uniq("hash"), FamilyID: family, ClientID: "c", UserID: uniq("u"),
		Scope: domain.NewScope("a", "b"), Status: domain.RefreshActive,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour), AccessTTL: 5 * time.Second, AuthTime: now,
		// A family's tokens tell of one sign-in.
		SignIn: domain.SignIn{At: now.Add(-time.Hour), SessionID: "sid-" + family},
	}
}

// RunRefreshTokens tests a refresh token store. The store must judge time
// by clock.
func RunRefreshTokens(t *testing.T, newStore func(t *testing.T, clock *Clock) app.RefreshTokenStore) {
	ctx := context.Background()
	t.Run("create and find", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		rt := refreshToken(uniq("fam"), clock)
		require.NoError(t, s.CreateRefreshToken(ctx, rt))
		got, err := s.FindRefreshToken(ctx, rt.Hash)
		require.NoError(t, err)
		assert.Equal(t, rt, got)
		_, err = s.FindRefreshToken(ctx, uniq("missing"))
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("rotate", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		fam := uniq("fam")
		old := refreshToken(fam, clock)
		require.NoError(t, s.CreateRefreshToken(ctx, old))
		next := refreshToken(fam, clock)
		var seen domain.RefreshToken
		require.NoError(t, s.RotateRefreshToken(ctx, old.Hash, func(cur domain.RefreshToken) (domain.RefreshToken, error) {
			seen = cur
			return next, nil
		}))
		assert.Equal(t, old, seen)
		got, err := s.FindRefreshToken(ctx, old.Hash)
		require.NoError(t, err)
		assert.Equal(t, domain.RefreshRotated, got.Status)
		got, err = s.FindRefreshToken(ctx, next.Hash)
		require.NoError(t, err)
		assert.Equal(t, domain.RefreshActive, got.Status)
		assert.Equal(t, old.SignIn, got.SignIn, "the successor tells of the family's sign-in")
	})
	t.Run("rotate refused changes nothing", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		old := refreshToken(uniq("fam"), clock)
		require.NoError(t, s.CreateRefreshToken(ctx, old))
		boom := errors.New("refused")
		err := s.RotateRefreshToken(ctx, old.Hash, func(domain.RefreshToken) (domain.RefreshToken, error) {
			return domain.RefreshToken{}, boom
		})
		assert.ErrorIs(t, err, boom)
		got, err := s.FindRefreshToken(ctx, old.Hash)
		require.NoError(t, err)
		assert.Equal(t, domain.RefreshActive, got.Status)
		err = s.RotateRefreshToken(ctx, uniq("missing"), func(domain.RefreshToken) (domain.RefreshToken, error) {
			t.Fatal("rotate must not be called for a missing token")
			return domain.RefreshToken{}, nil
		})
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("concurrent rotations: exactly one sees the token active", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		fam := uniq("fam")
		old := refreshToken(fam, clock)
		require.NoError(t, s.CreateRefreshToken(ctx, old))
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.RotateRefreshToken(ctx, old.Hash, func(cur domain.RefreshToken) (domain.RefreshToken, error) {
					if cur.Status != domain.RefreshActive {
						return domain.RefreshToken{}, errors.New("already used")
					}
					return refreshToken(fam, clock), nil
				})
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, 1, won)
	})
	t.Run("revoke family", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		fam, other := uniq("fam"), uniq("other")
		a, b, c := refreshToken(fam, clock), refreshToken(fam, clock), refreshToken(other, clock)
		b.UserID = a.UserID
		for _, rt := range []domain.RefreshToken{a, b, c} {
			require.NoError(t, s.CreateRefreshToken(ctx, rt))
		}
		require.NoError(t, s.RevokeFamily(ctx, fam))
		for _, rt := range []domain.RefreshToken{a, b} {
			got, err := s.FindRefreshToken(ctx, rt.Hash)
			require.NoError(t, err)
			assert.Equal(t, domain.RefreshRevoked, got.Status)
		}
		got, err := s.FindRefreshToken(ctx, c.Hash)
		require.NoError(t, err)
		assert.Equal(t, domain.RefreshActive, got.Status, "other families are untouched")
		late := refreshToken(fam, clock)
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, late), domain.ErrRevoked, "a revoked family takes no new token")
		require.NoError(t, s.RevokeFamily(ctx, fam), "revoking twice is fine")
	})
	t.Run("a family revoked before it exists is born revoked", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		fam := uniq("fam")
		require.NoError(t, s.RevokeFamily(ctx, fam))
		rt := refreshToken(fam, clock)
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, rt), domain.ErrRevoked)
		_, err := s.FindRefreshToken(ctx, rt.Hash)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("race: revoking a family while its token rotates leaves no successor alive", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		for round := 0; round < 50; round++ {
			fam := uniq("fam")
			cur := refreshToken(fam, clock)
			require.NoError(t, s.CreateRefreshToken(ctx, cur))
			next := refreshToken(fam, clock)
			next.UserID = cur.UserID
			var rotateErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				rotateErr = s.RotateRefreshToken(ctx, cur.Hash, func(c domain.RefreshToken) (domain.RefreshToken, error) {
					if !c.Usable(clock.Now()) {
						return domain.RefreshToken{}, errors.New("not usable")
					}
					return next, nil
				})
			}()
			go func() { defer wg.Done(); require.NoError(t, s.RevokeFamily(ctx, fam)) }()
			wg.Wait()
			if rotateErr != nil {
				continue // the revocation came first: nothing was added
			}
			got, err := s.FindRefreshToken(ctx, next.Hash)
			require.NoError(t, err)
			require.Equal(t, domain.RefreshRevoked, got.Status, "round %d: the successor is revoked with its family", round)
		}
	})
}

// RunRevocations tests a revocation store.
func RunRevocations(t *testing.T, newStore func(t *testing.T, clock *Clock) app.RevocationStore) {
	ctx := context.Background()
	t.Run("revokes tokens issued up to the mark, until it expires", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		now := clock.Now()
		before, after := now.Add(-time.Second), now.Add(time.Second)
		jti, other := uniq("jti"), uniq("other")

		revoked, err := s.Revoked(ctx, before, jti)
		require.NoError(t, err)
		assert.False(t, revoked)

		require.NoError(t, s.Revoke(ctx, jti, now, now.Add(10*time.Second)))
		revoked, err = s.Revoked(ctx, before, other, jti, "")
		require.NoError(t, err)
		assert.True(t, revoked, "any of the ids")
		revoked, err = s.Revoked(ctx, now, jti)
		require.NoError(t, err)
		assert.True(t, revoked, "issued at the mark itself")
		revoked, err = s.Revoked(ctx, after, jti)
		require.NoError(t, err)
		assert.False(t, revoked, "a token issued after the revocation is not covered")
		revoked, err = s.Revoked(ctx, before, other, "")
		require.NoError(t, err)
		assert.False(t, revoked)
		revoked, err = s.Revoked(ctx, before)
		require.NoError(t, err)
		assert.False(t, revoked, "no ids")

		clock.Advance(11 * time.Second)
		revoked, err = s.Revoked(ctx, before, jti)
		require.NoError(t, err)
		assert.False(t, revoked, "forgotten once every token it covers has expired")
	})
	t.Run("revoking again only widens", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		now := clock.Now()
		id := uniq("grant")
		require.NoError(t, s.Revoke(ctx, id, now, now.Add(10*time.Second)))
		require.NoError(t, s.Revoke(ctx, id, now.Add(-time.Hour), now.Add(2*time.Second)))
		clock.Advance(5 * time.Second)
		revoked, err := s.Revoked(ctx, now, id)
		require.NoError(t, err)
		assert.True(t, revoked, "neither the mark nor its life shrank")
		require.NoError(t, s.Revoke(ctx, id, now.Add(3*time.Second), now.Add(20*time.Second)))
		revoked, err = s.Revoked(ctx, now.Add(2*time.Second), id)
		require.NoError(t, err)
		assert.True(t, revoked, "a later mark covers more")
	})
}

// RunSigningKeys tests a signing key store.
func RunSigningKeys(t *testing.T, newStore func(t *testing.T) jwtkeys.Store) {
	ctx := context.Background()
	t.Run("add retires the previous signer; delete prunes", func(t *testing.T) {
		s := newStore(t)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		k1, err := jwtkeys.Generate(jwtkeys.ES256, t0)
		require.NoError(t, err)
		k2, err := jwtkeys.Generate(jwtkeys.EdDSA, t0.Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, s.AddSigningKey(ctx, k1))
		require.NoError(t, s.AddSigningKey(ctx, k2))

		keys, err := s.SigningKeys(ctx)
		require.NoError(t, err)
		byID := map[string]domain.SigningKey{}
		for _, k := range keys {
			byID[k.ID] = k
		}
		require.Contains(t, byID, k1.ID)
		require.Contains(t, byID, k2.ID)
		assert.True(t, byID[k1.ID].RetiredAt.Equal(k2.CreatedAt), "k1 retired when k2 arrived")
		assert.True(t, byID[k2.ID].RetiredAt.IsZero())
		assert.Equal(t, k1.PrivatePEM, byID[k1.ID].PrivatePEM)
		assert.Equal(t, "EdDSA", byID[k2.ID].Algorithm)

		require.NoError(t, s.DeleteSigningKeys(ctx, t0.Add(2*time.Hour)))
		keys, err = s.SigningKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys, 1, "only the retired key is pruned")
		assert.Equal(t, k2.ID, keys[0].ID)
	})
	t.Run("a generation of signers is added at once and retires the one before", func(t *testing.T) {
		s := newStore(t)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		gen := func(at time.Time) []domain.SigningKey {
			es, err := jwtkeys.Generate(jwtkeys.ES256, at)
			require.NoError(t, err)
			rs, err := jwtkeys.Generate(jwtkeys.RS256, at)
			require.NoError(t, err)
			return []domain.SigningKey{es, rs}
		}
		first, second := gen(t0), gen(t0.Add(time.Hour))
		require.NoError(t, s.AddSigningKey(ctx, first...))
		require.NoError(t, s.AddSigningKey(ctx, second...))
		require.NoError(t, s.AddSigningKey(ctx), "an empty generation changes nothing")
		keys, err := s.SigningKeys(ctx)
		require.NoError(t, err)
		retired := map[string]time.Time{}
		for _, k := range keys {
			retired[k.ID] = k.RetiredAt
		}
		require.Len(t, retired, 4)
		for _, k := range first {
			assert.True(t, retired[k.ID].Equal(second[0].CreatedAt), "%s: the whole first generation retired when the second arrived", k.Algorithm)
		}
		for _, k := range second {
			assert.True(t, retired[k.ID].IsZero(), "%s: the second generation signs", k.Algorithm)
		}
	})
}
