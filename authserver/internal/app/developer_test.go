package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

func ownWebApp() app.OwnClient {
	return app.OwnClient{Name: "Alice's app", Type: domain.Confidential, RedirectURIs: []string{"https://app.example/cb"}}
}

func TestDeveloperOwnsClients(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob, err := w.accounts.Signup(ctx, "bob", "bob-password", app.Profile{})
	require.NoError(t, err)

	made, err := w.reg.RegisterOwn(ctx, "u-alice", ownWebApp())
	require.NoError(t, err)
	require.NotEmpty(t, made.Secret, "a confidential client's secret, shown once")
	c := made.Client
	assert.Equal(t, "u-alice", c.Owner)
	assert.Equal(t, domain.ManagedByRegistration, c.ManagedBy)
	assert.Empty(t, c.RegistrationTokenHash, "managed on the pages, not by RFC 7592")
	assert.Equal(t, []domain.GrantType{domain.GrantAuthorizationCode, domain.GrantRefreshToken}, c.GrantTypes)
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), c.Scopes)
	assert.True(t, c.RequiresPKCE())

	public, err := w.reg.RegisterOwn(ctx, "u-alice", app.OwnClient{Name: "CLI", Type: domain.Public, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	require.NoError(t, err)
	assert.Empty(t, public.Secret)

	mine, err := w.reg.OwnClients(ctx, "u-alice")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{c.ID, public.Client.ID}, []string{mine[0].ID, mine[1].ID})
	bobs, err := w.reg.OwnClients(ctx, bob.ID)
	require.NoError(t, err)
	assert.Empty(t, bobs, "bob sees none of alice's")

	assert.ErrorIs(t, w.reg.DeleteOwn(ctx, bob.ID, c.ID), app.ErrNoSuchClient, "bob cannot delete alice's client")
	assert.ErrorIs(t, w.reg.DeleteOwn(ctx, "u-alice", "web"), app.ErrNoSuchClient, "nor alice a fixture's")
	_, err = w.admin.Client(ctx, c.ID)
	require.NoError(t, err, "still there")

	for name, oc := range map[string]app.OwnClient{
		"http to another host": {Name: "x", Type: domain.Public, RedirectURIs: []string{"http://app.example/cb"}},
		"a private-use scheme": {Name: "x", Type: domain.Public, RedirectURIs: []string{"com.example.app:/cb"}},
		"no redirect URI":      {Name: "x", Type: domain.Public},
		"no name":              {Type: domain.Public, RedirectURIs: []string{"https://a.example/cb"}},
		"no type":              {Name: "x", RedirectURIs: []string{"https://a.example/cb"}},
	} {
		_, err := w.reg.RegisterOwn(ctx, bob.ID, oc)
		var fe *domain.FieldError
		assert.ErrorAs(t, err, &fe, name)
	}

	_, err = w.reg.RegisterOwn(ctx, "u-alice", ownWebApp())
	require.NoError(t, err)
	_, err = w.reg.RegisterOwn(ctx, "u-alice", ownWebApp())
	assert.ErrorIs(t, err, app.ErrTooManyOwnClients, "three per user in this world")

	require.NoError(t, w.reg.DeleteOwn(ctx, "u-alice", public.Client.ID))
	assert.ErrorIs(t, w.reg.DeleteOwn(ctx, "u-alice", public.Client.ID), app.ErrNoSuchClient, "gone")

	_, err = w.reg.RegisterOwn(ctx, "nobody", ownWebApp())
	assert.ErrorIs(t, err, app.ErrNoSession, "an account that is gone keeps no client")
	left, err := w.reg.OwnClients(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, left)
}

// Closing an account deletes the clients its user registered, and with
// them every token they hold, whoever the user of the token.
func TestClosingAnAccountDeletesItsClients(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob, err := w.accounts.Signup(ctx, "bob", "bob-password", app.Profile{})
	require.NoError(t, err)
	made, err := w.reg.RegisterOwn(ctx, bob.ID, ownWebApp())
	require.NoError(t, err)

	// Alice uses bob's app.
	code := w.approve(t, codeReq(made.Client.ID))
	tok, err := w.tokens.Exchange(ctx, made.Client, app.TokenRequest{GrantType: "authorization_code", Code: code,
		RedirectURI: "https://app.example/cb", CodeVerifier: verifier})
	require.NoError(t, err)
	require.True(t, w.introspect("rs", tok.AccessToken).Active)

	require.NoError(t, w.accounts.DeleteAccount(ctx, bob.ID, "bob-password", "s"))
	_, err = w.admin.Client(ctx, made.Client.ID)
	assert.ErrorIs(t, err, app.ErrNoSuchClient, "bob's client went with bob")
	assert.False(t, w.introspect("rs", tok.AccessToken).Active, "alice's token from it too")
	_, err = w.tokens.Exchange(ctx, made.Client, app.TokenRequest{GrantType: "refresh_token", RefreshToken: tok.RefreshToken})
	assert.Error(t, err, "and its refresh token")
	consents, err := w.store.ListConsents(ctx, "u-alice")
	require.NoError(t, err)
	assert.Empty(t, consents, "and alice's consent to it")

	events, err := w.store.RecentAudit(ctx, 50)
	require.NoError(t, err)
	var deleted []string
	for _, e := range events {
		if e.Type == domain.AuditClientDeleted {
			deleted = append(deleted, e.ClientID+" "+e.Detail)
		}
	}
	assert.Contains(t, deleted, made.Client.ID+" with its owner's account", "audited")

	// An administrator's deletion of a user does the same.
	carol, err := w.accounts.Signup(ctx, "carol", "carol-password", app.Profile{})
	require.NoError(t, err)
	hers, err := w.reg.RegisterOwn(ctx, carol.ID, ownWebApp())
	require.NoError(t, err)
	require.NoError(t, w.admin.DeleteUser(ctx, operator, carol.ID))
	_, err = w.admin.Client(ctx, hers.Client.ID)
	assert.ErrorIs(t, err, app.ErrNoSuchClient)
}

// Of 50 deletions of one client from its owner's page at once, one
// deletes it; the others find it gone.
func TestDeveloperDeleteRace(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	made, err := w.reg.RegisterOwn(ctx, "u-alice", ownWebApp())
	require.NoError(t, err)
	errs := make([]error, 50)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w.reg.DeleteOwn(ctx, "u-alice", made.Client.ID) }()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, app.ErrNoSuchClient)
	}
	assert.Equal(t, 1, won)
}

// A client registered while its owner's account closes does not outlive
// the account: either the closing finds it, or the registration finds the
// account gone and deletes it.
func TestRegisterOwnRacingAccountDeletion(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for round := range 20 {
		name := fmt.Sprintf("racer%d", round)
		u, err := w.accounts.Signup(ctx, name, name+"-password", app.Profile{})
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Add(2)
		var regErr, delErr error
		go func() { defer wg.Done(); _, regErr = w.reg.RegisterOwn(ctx, u.ID, ownWebApp()) }()
		go func() { defer wg.Done(); delErr = w.accounts.DeleteAccount(ctx, u.ID, name+"-password", "s") }()
		wg.Wait()
		require.NoError(t, delErr, "round %d", round)
		if regErr != nil {
			require.ErrorIs(t, regErr, app.ErrNoSession, "round %d", round)
		}
		left, err := w.store.ListOwnedClients(ctx, u.ID, 10)
		require.NoError(t, err)
		require.Empty(t, left, "round %d: a client outlived its owner", round)
	}
}
