package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/precis"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// provisionWorld is a Provisioner on a memory store whose batch can fail.
type provisionWorld struct {
	store *memory.Store
	batch *failingBatch
	p     *app.Provisioner
	clock *storagetest.Clock
}

type failingBatch struct {
	app.BatchSaver
	fail error
}

func (b *failingBatch) SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	if b.fail != nil {
		return b.fail
	}
	return b.BatchSaver.SaveBatch(ctx, scopes, clients, users)
}

func newProvisionWorld() *provisionWorld {
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	batch := &failingBatch{BatchSaver: store}
	return &provisionWorld{store: store, batch: batch, clock: clock, p: app.NewProvisioner(app.ProvisionerDeps{
		Clients: store, Users: store, Scopes: store, Batch: batch, Hasher: hashing.NewHasher(cheap, 2),
		Text: precis.Rules{}, Now: clock.Now,
	})}
}

func webFixture() app.Fixtures {
	return app.Fixtures{
		Scopes: []domain.ScopeInfo{{Name: "read", Description: "Read"}},
		Clients: []app.FixtureClient{{Secret: "typed-in", Client: domain.Client{
			ID: "web", Name: "Web", Type: domain.Confidential, GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode},
			RedirectURIs: []string{"https://web.example/cb"}, Scopes: domain.NewScope("read"),
		}}},
		Users: []app.FixtureUser{{Username: "Dora", Password: "dora-password"}},
	}
}

func TestProvisionDefaultsAndRules(t *testing.T) {
	w := newProvisionWorld()
	ctx := context.Background()
	sum, err := w.p.Provision(ctx, webFixture())
	require.NoError(t, err)
	assert.Equal(t, app.ProvisionSummary{Scopes: 1, ScopesWritten: 1, ClientsWritten: 1, UsersWritten: 1, ClientsAdded: []string{"web"}}, sum)

	c, err := w.store.FindClient(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, []domain.AuthMethod{domain.ClientSecretBasic, domain.ClientSecretPost}, c.AuthMethods, "a confidential client's default")
	assert.Equal(t, []string{"https://web.example"}, c.AllowedOrigins, "the redirect URIs' origins")
	assert.True(t, hashing.IsSlow(c.SecretHash), "a typed-in secret gets the slow hash")
	assert.Equal(t, w.clock.Now(), c.CreatedAt)
	u, err := w.store.FindUserByUsername(ctx, "dora")
	require.NoError(t, err, "the username in its prepared form")
	assert.Equal(t, "user-dora", u.ID)

	f := webFixture()
	f.Users[0].Username = "bad name"
	_, err = w.p.Provision(ctx, f)
	assert.ErrorContains(t, err, "not a valid PRECIS username")
	f = webFixture()
	f.Clients[0].Secret = ""
	_, err = w.p.Provision(ctx, f)
	assert.ErrorContains(t, err, "needs a secret", "the domain's rules apply")
}

// TestProvisionRace: 50 loads of the same new records at once; exactly one
// writes them, every other finds them unchanged.
func TestProvisionRace(t *testing.T) {
	w := newProvisionWorld()
	const n = 50
	var wg sync.WaitGroup
	sums := make([]app.ProvisionSummary, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { sums[i], errs[i] = w.p.Provision(context.Background(), webFixture()) })
	}
	wg.Wait()
	added := 0
	for i := range n {
		require.NoError(t, errs[i])
		if sums[i].Changed() {
			added++
			assert.Equal(t, []string{"web"}, sums[i].ClientsAdded)
		} else {
			assert.Equal(t, 1, sums[i].ClientsUnchanged)
			assert.Equal(t, 1, sums[i].UsersUnchanged)
		}
	}
	assert.Equal(t, 1, added, "exactly one load writes")
}

// TestProvisionFailureChangesNothing: a store that fails reading or saving
// fails the load, and nothing of it is saved.
func TestProvisionFailureChangesNothing(t *testing.T) {
	w := newProvisionWorld()
	ctx := context.Background()
	w.batch.fail = fmt.Errorf("postgres: %w", domain.ErrUnavailable)
	_, err := w.p.Provision(ctx, webFixture())
	require.ErrorIs(t, err, domain.ErrUnavailable)
	_, err = w.store.FindClient(ctx, "web")
	assert.ErrorIs(t, err, domain.ErrNotFound)
	scopes, err := w.store.ListScopes(ctx)
	require.NoError(t, err)
	assert.Empty(t, scopes)

	w.batch.fail = nil
	sum, err := w.p.Provision(ctx, webFixture())
	require.NoError(t, err, "the next load, with the store back, goes through")
	assert.Equal(t, 1, sum.ClientsWritten)

	f := webFixture()
	f.Clients[0].Client.Name = "Renamed"
	w.clock.Advance(time.Minute)
	sum, err = w.p.Provision(ctx, f)
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, sum.ClientsChanged)
	c, err := w.store.FindClient(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, c.CreatedAt.Add(time.Minute), c.UpdatedAt, "created when added, updated when changed")
}

func TestProvisionOpenIDConnectFields(t *testing.T) {
	w := newProvisionWorld()
	ctx := context.Background()
	f := webFixture()
	f.Users[0].Name, f.Users[0].Email, f.Users[0].EmailVerified = "Dora Explorer", "dora@example.com", true
	f.Clients[0].Client.IDTokenAlg = "ES256"
	f.Clients[0].Client.PostLogoutRedirectURIs = []string{"https://web.example/"}
	_, err := w.p.Provision(ctx, f)
	require.NoError(t, err)
	u, err := w.store.FindUserByUsername(ctx, "dora")
	require.NoError(t, err)
	assert.Equal(t, "Dora Explorer", u.Name)
	assert.Equal(t, "dora@example.com", u.Email)
	assert.True(t, u.EmailVerified)
	c, err := w.store.FindClient(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, "ES256", c.IDTokenSigningAlg())
	assert.True(t, c.HasPostLogoutRedirectURI("https://web.example/"))

	sum, err := w.p.Provision(ctx, f)
	require.NoError(t, err)
	assert.False(t, sum.Changed(), "loading the same profile again writes nothing")

	f.Users[0].Email = "dora@example.org"
	w.clock.Advance(time.Minute)
	sum, err = w.p.Provision(ctx, f)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.UsersWritten, "a changed address is written")
	u, err = w.store.FindUserByUsername(ctx, "dora")
	require.NoError(t, err)
	assert.Equal(t, w.clock.Now(), u.UpdatedAt, "and updated_at moves, for the claim of that name")

	for name, bad := range map[string]func(*app.Fixtures){
		"an address with a display name": func(f *app.Fixtures) { f.Users[0].Email = "Dora <dora@example.com>" },
		"an address without a domain":    func(f *app.Fixtures) { f.Users[0].Email = "dora@localhost" },
		"verified without an address":    func(f *app.Fixtures) { f.Users[0].Email = ""; f.Users[0].EmailVerified = true },
		"a name with a newline":          func(f *app.Fixtures) { f.Users[0].Name = "Dora\nX" },
		"an unknown ID token algorithm":  func(f *app.Fixtures) { f.Clients[0].Client.IDTokenAlg = "none" },
		"a post-logout URI over http":    func(f *app.Fixtures) { f.Clients[0].Client.PostLogoutRedirectURIs = []string{"http://web.example/"} },
	} {
		t.Run(name, func(t *testing.T) {
			f := webFixture()
			bad(&f)
			_, err := w.p.Provision(ctx, f)
			assert.Error(t, err)
		})
	}
}
