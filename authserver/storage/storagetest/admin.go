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

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The stores' part in administration: clients created once, changed
// atomically, deleted for good and listed by page; users listed by page,
// with their admin and disabled flags; everything a deleted client held.

func adminClient(id string) domain.Client {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return domain.Client{
		ID: id, Name: id, Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone},
		GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://" + id + ".example/cb"},
		Scopes: domain.NewScope("a"), DefaultScopes: domain.NewScope("a"), AllowedOrigins: []string{"https://" + id + ".example"},
		ManagedBy: domain.ManagedByAdmin, CreatedAt: at, UpdatedAt: at,
	}
}

func runClientAdmin(t *testing.T, newStore func(t *testing.T) ClientStore) {
	ctx := context.Background()
	t.Run("create once; a deleted id is never created again", func(t *testing.T) {
		s := newStore(t)
		c := adminClient(uniq("new"))
		require.NoError(t, s.CreateClient(ctx, c))
		got, err := s.FindClient(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, got)
		ok, err := s.OriginAllowed(ctx, c.AllowedOrigins[0])
		require.NoError(t, err)
		assert.True(t, ok, "its origins are indexed")

		again := c
		again.Name = "Another"
		assert.ErrorIs(t, s.CreateClient(ctx, again), domain.ErrConflict, "the id is taken")
		got, err = s.FindClient(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c.ID, got.Name, "and the first stays as it was")

		require.NoError(t, s.DeleteClient(ctx, c.ID))
		assert.ErrorIs(t, s.CreateClient(ctx, again), domain.ErrConflict, "a deleted id stays taken")
		_, err = s.FindClient(ctx, c.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		ok, err = s.OriginAllowed(ctx, c.AllowedOrigins[0])
		require.NoError(t, err)
		assert.False(t, ok, "its origins went with it")
	})
	t.Run("update", func(t *testing.T) {
		s := newStore(t)
		c := adminClient(uniq("upd"))
		require.NoError(t, s.CreateClient(ctx, c))
		refused := errors.New("refused")
		err := s.UpdateClient(ctx, c.ID, func(cur *domain.Client) error {
			assert.Equal(t, c, *cur, "the closure sees the stored record")
			cur.Name = "never saved"
			return refused
		})
		assert.ErrorIs(t, err, refused)
		got, err := s.FindClient(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, got, "a refused update changes nothing")

		require.NoError(t, s.UpdateClient(ctx, c.ID, func(cur *domain.Client) error {
			cur.ID = "ignored"
			cur.Name = "Renamed"
			cur.RedirectURIs = []string{"https://new.example/cb"}
			cur.AllowedOrigins = []string{"https://new.example"}
			return nil
		}))
		got, err = s.FindClient(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, "Renamed", got.Name)
		assert.Equal(t, []string{"https://new.example/cb"}, got.RedirectURIs)
		_, err = s.FindClient(ctx, "ignored")
		assert.ErrorIs(t, err, domain.ErrNotFound, "an id the closure changed is ignored")
		ok, err := s.OriginAllowed(ctx, c.AllowedOrigins[0])
		require.NoError(t, err)
		assert.False(t, ok, "the old origins are forgotten")

		err = s.UpdateClient(ctx, uniq("nobody"), func(*domain.Client) error {
			t.Error("update must not run for a missing client")
			return nil
		})
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
	t.Run("listed a page at a time, by id", func(t *testing.T) {
		s := newStore(t)
		before, total, err := s.ListClients(ctx, "", 1000)
		require.NoError(t, err)
		require.Len(t, before, total, "a page larger than the store holds all")
		prefix := uniq("page")
		var want []string
		for i := 0; i < 5; i++ {
			c := adminClient(fmt.Sprintf("%s-%d", prefix, 4-i))
			require.NoError(t, s.CreateClient(ctx, c))
			want = append([]string{c.ID}, want...)
		}
		var got []string
		after := prefix // every id of the test sorts after its prefix
		for {
			page, n, err := s.ListClients(ctx, after, 2)
			require.NoError(t, err)
			assert.Equal(t, total+5, n, "the total counts every client")
			assert.LessOrEqual(t, len(page), 2)
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				if len(c.ID) > len(prefix) && c.ID[:len(prefix)] == prefix {
					got = append(got, c.ID)
				}
			}
			after = page[len(page)-1].ID
		}
		assert.Equal(t, want, got, "each once, in byte order")
	})
	t.Run("race: of 50 creations of one id exactly one succeeds", func(t *testing.T) {
		s := newStore(t)
		id := uniq("race")
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := adminClient(id)
				c.Name = fmt.Sprintf("creator-%d", i)
				errs[i] = s.CreateClient(ctx, c)
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "two creations succeeded")
				winner = i
				continue
			}
			require.ErrorIs(t, err, domain.ErrConflict)
		}
		require.NotEqual(t, -1, winner, "one creation succeeds")
		got, err := s.FindClient(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("creator-%d", winner), got.Name, "the winner's record is stored")
	})
	t.Run("race: a creation racing the deletion of its id never brings it back", func(t *testing.T) {
		s := newStore(t)
		for round := 0; round < 20; round++ {
			c := adminClient(uniq("gone"))
			require.NoError(t, s.CreateClient(ctx, c))
			var delErr, createErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); delErr = s.DeleteClient(ctx, c.ID) }()
			go func() { defer wg.Done(); createErr = s.CreateClient(ctx, c) }()
			wg.Wait()
			require.NoError(t, delErr, "round %d", round)
			require.ErrorIs(t, createErr, domain.ErrConflict, "round %d: taken, or deleted", round)
			_, err := s.FindClient(ctx, c.ID)
			require.ErrorIs(t, err, domain.ErrNotFound, "round %d", round)
		}
	})
}

// runClientOwners checks what registration keeps on a client: who
// registered it on the developer pages, listed by that owner only, and
// the hash of its registration access token.
func runClientOwners(t *testing.T, s ClientStore) {
	ctx := context.Background()
	owner, other := uniq("owner"), uniq("other")
	mk := func(id, by string) domain.Client {
		c := adminClient(id)
		c.ManagedBy, c.Owner, c.RegistrationTokenHash = domain.ManagedByRegistration, by, "hash-of-"+id
		require.NoError(t, s.CreateClient(ctx, c))
		return c
	}
	prefix := uniq("own")
	b, a := mk(prefix+"-b", owner), mk(prefix+"-a", owner)
	mk(prefix+"-c", other)
	mk(prefix+"-d", "")

	got, err := s.FindClient(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got, "owner and registration token hash are kept")
	assert.False(t, got.ConfigManaged())

	list, err := s.ListOwnedClients(ctx, owner, 10)
	require.NoError(t, err)
	assert.Equal(t, []domain.Client{a, b}, list, "the owner's, by id, no one else's")
	list, err = s.ListOwnedClients(ctx, owner, 1)
	require.NoError(t, err)
	assert.Equal(t, []domain.Client{a}, list, "at most limit")
	list, err = s.ListOwnedClients(ctx, "", 1000)
	require.NoError(t, err)
	assert.Empty(t, list, "the clients nobody owns are nobody's list")

	require.NoError(t, s.UpdateClient(ctx, a.ID, func(c *domain.Client) error {
		c.RegistrationTokenHash = ""
		return nil
	}))
	got, err = s.FindClient(ctx, a.ID)
	require.NoError(t, err)
	assert.Empty(t, got.RegistrationTokenHash, "an update saves the hash too")
	assert.Equal(t, owner, got.Owner)

	require.NoError(t, s.DeleteClient(ctx, a.ID))
	list, err = s.ListOwnedClients(ctx, owner, 10)
	require.NoError(t, err)
	assert.Equal(t, []domain.Client{b}, list, "a deleted client is no longer listed")
}

func runUserFlags(t *testing.T, s UserStore) {
	ctx := context.Background()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := domain.User{ID: uniq("u"), Username: uniq("root"), PasswordHash: "h", Admin: true, CreatedAt: day, UpdatedAt: day}
	require.NoError(t, s.SaveUser(ctx, u))
	got, err := s.FindUser(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)
	require.NoError(t, s.UpdateUser(ctx, u.ID, func(cur *domain.User) error {
		assert.True(t, cur.Admin)
		cur.Admin, cur.Disabled = false, true
		return nil
	}))
	got, err = s.FindUserByUsername(ctx, u.Username)
	require.NoError(t, err)
	assert.False(t, got.Admin)
	assert.True(t, got.Disabled)
}

func runListUsers(t *testing.T, s UserStore) {
	ctx := context.Background()
	before, total, err := s.ListUsers(ctx, "", 1000)
	require.NoError(t, err)
	require.Len(t, before, total)
	prefix := uniq("lu")
	// Ids whose byte order is not a case-insensitive one.
	for _, x := range []string{"B", "a", "C", "b", "A"} {
		require.NoError(t, s.SaveUser(ctx, domain.User{ID: prefix + "-" + x, Username: uniq("name"), PasswordHash: "h"}))
	}
	want := []string{prefix + "-A", prefix + "-B", prefix + "-C", prefix + "-a", prefix + "-b"}
	var got []string
	after := prefix
	for {
		page, n, err := s.ListUsers(ctx, after, 2)
		require.NoError(t, err)
		assert.Equal(t, total+5, n)
		assert.LessOrEqual(t, len(page), 2)
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			if len(u.ID) > len(prefix) && u.ID[:len(prefix)] == prefix {
				got = append(got, u.ID)
			}
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, want, got, "each once, in byte order")
}

// ClientRefreshStore is a refresh token store that also revokes by client.
type ClientRefreshStore interface {
	app.RefreshTokenStore
	app.ClientRevoker
}

// RunClientRevocation tests revoking every family of a client at the
// refresh token store.
func RunClientRevocation(t *testing.T, newStore func(t *testing.T, clock *Clock) ClientRefreshStore) {
	ctx := context.Background()
	t.Run("revokes every family of the client, no others", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		client := uniq("app")
		mk := func(clientID string) domain.RefreshToken {
			rt := refreshToken(uniq("fam"), clock)
			rt.ClientID = clientID
			require.NoError(t, s.CreateRefreshToken(ctx, rt))
			return rt
		}
		hit1, hit2, other := mk(client), mk(client), mk(uniq("other"))
		require.NoError(t, s.RevokeClientTokens(ctx, client))
		for rt, want := range map[string]domain.RefreshStatus{
			hit1.Hash: domain.RefreshRevoked, hit2.Hash: domain.RefreshRevoked, other.Hash: domain.RefreshActive,
		} {
			got, err := s.FindRefreshToken(ctx, rt)
			require.NoError(t, err)
			assert.Equal(t, want, got.Status)
		}
		next := refreshToken(hit1.FamilyID, clock)
		next.ClientID = client
		assert.ErrorIs(t, s.CreateRefreshToken(ctx, next), domain.ErrRevoked, "a revoked family takes no new token")
		require.NoError(t, s.RevokeClientTokens(ctx, uniq("nobody")), "a client without families is fine")
	})
	t.Run("race: revoking a client while its token rotates leaves no successor alive", func(t *testing.T) {
		clock := NewClock()
		s := newStore(t, clock)
		for round := 0; round < 50; round++ {
			client := uniq("app")
			cur := refreshToken(uniq("fam"), clock)
			cur.ClientID = client
			require.NoError(t, s.CreateRefreshToken(ctx, cur))
			next := refreshToken(cur.FamilyID, clock)
			next.ClientID, next.UserID = client, cur.UserID
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
			go func() { defer wg.Done(); require.NoError(t, s.RevokeClientTokens(ctx, client)) }()
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

// ClientConsentStore is a consent store that also deletes by client.
type ClientConsentStore interface {
	app.ConsentStore
	app.ClientConsentDeleter
}

// RunClientConsents tests deleting every user's consent to one client.
func RunClientConsents(t *testing.T, newStore func(t *testing.T) ClientConsentStore) {
	ctx := context.Background()
	s := newStore(t)
	client, other := uniq("app"), uniq("other")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u1, u2 := uniq("u1"), uniq("u2")
	for _, c := range []domain.Consent{
		{UserID: u1, ClientID: client, Scope: domain.NewScope("x"), CreatedAt: t0, UpdatedAt: t0},
		{UserID: u2, ClientID: client, Scope: domain.NewScope("x"), CreatedAt: t0, UpdatedAt: t0},
		{UserID: u1, ClientID: other, Scope: domain.NewScope("y"), CreatedAt: t0, UpdatedAt: t0},
	} {
		require.NoError(t, s.SaveConsent(ctx, c))
	}
	require.NoError(t, s.DeleteClientConsents(ctx, client))
	for _, u := range []string{u1, u2} {
		_, err := s.FindConsent(ctx, u, client)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	}
	got, err := s.FindConsent(ctx, u1, other)
	require.NoError(t, err, "consents to other clients stay")
	assert.Equal(t, other, got.ClientID)
	require.NoError(t, s.DeleteClientConsents(ctx, client), "deleting twice is fine")
}
