package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

var operator = app.Administrator{}

// adminCLI is the configuration's admin client, as the demo has it.
func (w *world) adminCLI(t *testing.T) domain.Client {
	t.Helper()
	c := domain.Client{ID: "admin-cli", Type: domain.Confidential, SecretHash: hashing.HashGenerated("admin-secret"),
		AuthMethods: []domain.AuthMethod{domain.ClientSecretBasic}, GrantTypes: []domain.GrantType{domain.GrantClientCredentials},
		Scopes: domain.NewScope(app.AdminScope), DefaultScopes: domain.NewScope(app.AdminScope), ManagedBy: domain.ManagedByConfig}
	require.NoError(t, w.store.SaveClient(context.Background(), c))
	return c
}

func webSpec() app.ClientSpec {
	return app.ClientSpec{
		Name: "Admin-made web app", Type: domain.Confidential, RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode, domain.GrantRefreshToken, domain.GrantClientCredentials},
		Scopes:     domain.NewScope("current_time", "epoch_time"),
	}
}

func TestAdminAuthorization(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	admin := w.adminCLI(t)
	adminToken, err := w.tokens.Exchange(ctx, admin, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	plain := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})

	ad, err := w.admin.AuthorizeToken(ctx, adminToken.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, app.Administrator{ClientID: "admin-cli"}, ad)
	assert.Equal(t, "client admin-cli", ad.String())

	_, err = w.admin.AuthorizeToken(ctx, plain.AccessToken)
	assert.ErrorIs(t, err, app.ErrNotAdmin, "a good token without the admin scope")
	assert.Equal(t, domain.InsufficientScope, domain.CodeOf(err))
	_, err = w.admin.AuthorizeToken(ctx, "not.a.jwt")
	assert.ErrorIs(t, err, app.ErrBadAdminToken)

	require.NoError(t, w.revoker.Revoke(ctx, admin, adminToken.AccessToken, ""))
	_, err = w.admin.AuthorizeToken(ctx, adminToken.AccessToken)
	assert.ErrorIs(t, err, app.ErrBadAdminToken, "a revoked admin token")
	fresh, err := w.tokens.Exchange(ctx, admin, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	w.clock.Advance(2 * time.Hour)
	_, err = w.admin.AuthorizeToken(ctx, fresh.AccessToken)
	assert.ErrorIs(t, err, app.ErrBadAdminToken, "an expired admin token")

	// Signed-in users: an administrator's account, read at every call.
	root, err := w.admin.CreateUser(ctx, operator, app.NewUser{Username: "Root", Password: "root-password", Admin: true})
	require.NoError(t, err)
	assert.Equal(t, "root", root.Username, "PRECIS, as sign-up")
	token := w.signIn(t, root.ID)
	sess, err := w.accounts.Session(ctx, token)
	require.NoError(t, err)
	ad, err = w.admin.AuthorizeSession(ctx, sess)
	require.NoError(t, err)
	assert.Equal(t, app.Administrator{UserID: root.ID}, ad)

	alice, err := w.accounts.Session(ctx, w.signIn(t, "u-alice"))
	require.NoError(t, err)
	_, err = w.admin.AuthorizeSession(ctx, alice)
	assert.ErrorIs(t, err, app.ErrNotAdmin, "a user who is not an administrator")

	no := false
	_, err = w.admin.UpdateUser(ctx, operator, root.ID, app.UserChange{Admin: &no})
	require.NoError(t, err)
	_, err = w.admin.AuthorizeSession(ctx, sess)
	assert.ErrorIs(t, err, app.ErrNotAdmin, "the role taken away counts at once")
}

func TestAdminCreatesClients(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	made, err := w.admin.CreateClient(ctx, operator, "made", webSpec())
	require.NoError(t, err)
	require.NotEmpty(t, made.Secret, "a confidential client gets a secret, shown once")
	c := made.Client
	assert.Equal(t, domain.ManagedByAdmin, c.ManagedBy)
	assert.NotContains(t, c.SecretHash, made.Secret, "stored hashed")
	assert.Equal(t, []string{"https://app.example"}, c.AllowedOrigins, "origins of its redirect URIs, as fixtures")
	assert.True(t, c.RequiresPKCE())
	got, err := w.admin.Client(ctx, "made")
	require.NoError(t, err)
	assert.Equal(t, c, got)

	authed, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: "made", Secret: made.Secret, Method: domain.ClientSecretBasic})
	require.NoError(t, err, "the secret shown works")
	tok, err := w.tokens.Exchange(ctx, authed, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), tok.Scope, "its scopes are its default")

	_, err = w.admin.CreateClient(ctx, operator, "made", webSpec())
	assert.ErrorIs(t, err, app.ErrClientIDTaken)
	_, err = w.admin.CreateClient(ctx, operator, "web", webSpec())
	assert.ErrorIs(t, err, app.ErrClientIDTaken, "a fixture's id too")

	random, err := w.admin.CreateClient(ctx, operator, "", app.ClientSpec{Name: "SPA", Type: domain.Public,
		RedirectURIs: []string{"http://127.0.0.1:8080/cb"}, GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}})
	require.NoError(t, err)
	assert.Len(t, random.Client.ID, 22, "no id: a random one")
	assert.Empty(t, random.Secret, "a public client has no secret")
	assert.Equal(t, []domain.AuthMethod{domain.AuthNone}, random.Client.AuthMethods)

	for name, tc := range map[string]struct {
		id    string
		spec  func(*app.ClientSpec)
		field string
	}{
		"http redirect to another host":  {spec: func(s *app.ClientSpec) { s.RedirectURIs = []string{"http://app.example/cb"} }, field: app.FieldRedirectURIs},
		"a redirect with a fragment":     {spec: func(s *app.ClientSpec) { s.RedirectURIs = []string{"https://app.example/cb#x"} }, field: app.FieldRedirectURIs},
		"code without a redirect":        {spec: func(s *app.ClientSpec) { s.RedirectURIs = nil }, field: app.FieldRedirectURIs},
		"the admin scope":                {spec: func(s *app.ClientSpec) { s.Scopes = domain.NewScope("admin") }, field: app.FieldScopes},
		"an unknown scope":               {spec: func(s *app.ClientSpec) { s.Scopes = domain.NewScope("nope") }, field: app.FieldScopes},
		"public with client_credentials": {spec: func(s *app.ClientSpec) { s.Type = domain.Public }, field: app.FieldGrantTypes},
		"an unknown grant":               {spec: func(s *app.ClientSpec) { s.GrantTypes = []domain.GrantType{"magic"} }, field: app.FieldGrantTypes},
		"no name":                        {spec: func(s *app.ClientSpec) { s.Name = "" }, field: app.FieldName},
		"an unknown type":                {spec: func(s *app.ClientSpec) { s.Type = "secret" }, field: app.FieldType},
		"an id with a slash":             {id: "a/b", spec: func(*app.ClientSpec) {}, field: app.FieldID},
	} {
		t.Run(name, func(t *testing.T) {
			spec := webSpec()
			tc.spec(&spec)
			id := tc.id
			if id == "" {
				id = "refused"
			}
			_, err := w.admin.CreateClient(ctx, operator, id, spec)
			assertField(t, err, tc.field)
			_, err = w.store.FindClient(ctx, id)
			assert.ErrorIs(t, err, domain.ErrNotFound, "nothing stored")
		})
	}
}

func TestAdminUpdatesClients(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	made, err := w.admin.CreateClient(ctx, operator, "app", webSpec())
	require.NoError(t, err)

	spec := app.ClientSpec{Name: "Now public", Type: domain.Public, RedirectURIs: []string{"https://new.example/cb"},
		GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, Scopes: domain.NewScope("epoch_time")}
	pub, err := w.admin.UpdateClient(ctx, operator, "app", spec)
	require.NoError(t, err)
	assert.Empty(t, pub.Secret)
	assert.Empty(t, pub.Client.SecretHash, "a public client has no secret")
	assert.Equal(t, []string{"https://new.example"}, pub.Client.AllowedOrigins)
	assert.Equal(t, made.Client.CreatedAt, pub.Client.CreatedAt)
	_, err = w.auth.Authenticate(ctx, app.ClientCredentials{ID: "app", Secret: made.Secret, Method: domain.ClientSecretBasic})
	assert.Equal(t, domain.InvalidClient, domain.CodeOf(err), "the old secret is gone")

	conf, err := w.admin.UpdateClient(ctx, operator, "app", webSpec())
	require.NoError(t, err)
	require.NotEmpty(t, conf.Secret, "confidential again: a new secret, shown once")
	again, err := w.admin.UpdateClient(ctx, operator, "app", webSpec())
	require.NoError(t, err)
	assert.Empty(t, again.Secret, "a confidential client keeps its secret")
	assert.Equal(t, conf.Client.SecretHash, again.Client.SecretHash)

	bad := webSpec()
	bad.RedirectURIs = []string{"http://evil.example/cb"}
	_, err = w.admin.UpdateClient(ctx, operator, "app", bad)
	assertField(t, err, app.FieldRedirectURIs)
	cur, err := w.admin.Client(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, again.Client, cur, "a refused update changes nothing")

	_, err = w.admin.UpdateClient(ctx, operator, "nobody", webSpec())
	assert.ErrorIs(t, err, app.ErrNoSuchClient)
	assert.ErrorIs(t, err, domain.ErrNotFound)

	// The fixtures' clients stay the files'.
	_, err = w.admin.UpdateClient(ctx, operator, "web", webSpec())
	assert.ErrorIs(t, err, app.ErrConfigManaged)
	assert.ErrorIs(t, w.admin.DeleteClient(ctx, operator, "web"), app.ErrConfigManaged)
	web, err := w.store.FindClient(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, w.client("web"), web, "untouched")
}

func TestAdminDeletesAClientWithEverythingItHolds(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	made, err := w.admin.CreateClient(ctx, operator, "doomed", webSpec())
	require.NoError(t, err)
	c := made.Client
	w.clients["doomed"] = c
	code := w.mustExchange("doomed", codeTokenReq("web", w.approve(t, codeReq("doomed"))))
	pending := w.approve(t, codeReq("doomed"))
	own := w.mustExchange("doomed", app.TokenRequest{GrantType: "client_credentials"})
	other := w.mustExchange("web", codeTokenReq("web", w.approve(t, codeReq("web"))))
	require.True(t, w.alive(code))
	require.True(t, w.alive(own))
	consents, err := w.store.ListConsents(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, consents, 2)

	require.NoError(t, w.admin.DeleteClient(ctx, operator, "doomed"))
	assert.False(t, w.introspect("rs", code.AccessToken).Active, "its users' access tokens are inactive at once")
	assert.False(t, w.introspect("rs", own.AccessToken).Active, "and its own")
	rt, err := w.store.FindRefreshToken(ctx, app.HashToken(code.RefreshToken))
	require.NoError(t, err)
	assert.Equal(t, domain.RefreshRevoked, rt.Status, "its refresh tokens are revoked")
	// Another replica that still has the client in its cache: whatever it
	// issues now is inactive too.
	_, err = w.tokens.Exchange(ctx, c, codeTokenReq("web", pending))
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "its outstanding code is revoked")
	late, err := w.tokens.Exchange(ctx, c, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	assert.False(t, w.introspect("rs", late.AccessToken).Active, "a token a stale cache let through is covered by the mark")

	consents, err = w.store.ListConsents(ctx, "u-alice")
	require.NoError(t, err)
	require.Len(t, consents, 1, "the consent to it is gone, the other stays")
	assert.Equal(t, "web", consents[0].ClientID)
	assert.True(t, w.alive(other), "another client's tokens are untouched")

	_, err = w.admin.Client(ctx, "doomed")
	assert.ErrorIs(t, err, app.ErrNoSuchClient)
	assert.ErrorIs(t, w.admin.DeleteClient(ctx, operator, "doomed"), app.ErrNoSuchClient, "twice")
	_, err = w.admin.CreateClient(ctx, operator, "doomed", webSpec())
	assert.ErrorIs(t, err, app.ErrClientIDTaken, "its id is never a client's again")

	events, err := w.store.RecentAudit(ctx, 50)
	require.NoError(t, err)
	assert.Contains(t, auditTypes(events), domain.AuditClientCreated)
	assert.Contains(t, auditTypes(events), domain.AuditClientDeleted)
}

func TestRaceAdminClientCreationsAndDeletions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	errs := all(50, func() error {
		_, err := w.admin.CreateClient(ctx, operator, "contested", webSpec())
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, app.ErrClientIDTaken)
	}
	assert.Equal(t, 1, won, "of 50 creations of one id, one succeeds")

	errs = all(50, func() error { return w.admin.DeleteClient(ctx, operator, "contested") })
	won = 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, app.ErrNoSuchClient)
	}
	assert.Equal(t, 1, won, "of 50 deletions, one succeeds")
}

func TestAdminPages(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := w.admin.CreateClient(ctx, operator, fmt.Sprintf("z-%d", i), webSpec())
		require.NoError(t, err)
	}
	var ids []string
	p := app.Page{Limit: 4}
	pages := 0
	for {
		page, err := w.admin.ListClients(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, len(w.clients)+5, page.Total)
		assert.LessOrEqual(t, len(page.Clients), 4)
		for _, c := range page.Clients {
			ids = append(ids, c.ID)
		}
		pages++
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	assert.Equal(t, (len(w.clients)+5+3)/4, pages, "no empty last page")
	assert.Len(t, ids, len(w.clients)+5)
	assert.IsIncreasing(t, ids)

	users, err := w.admin.ListUsers(ctx, app.Page{})
	require.NoError(t, err)
	assert.Equal(t, 1, users.Total)
	assert.Empty(t, users.Next)

	for _, p := range []app.Page{{Limit: app.MaxPageSize + 1}, {Limit: -1}} {
		_, err := w.admin.ListClients(ctx, p)
		assertField(t, err, app.FieldLimit)
	}
	for _, cursor := range []string{"not base64!", "Zm9v/", string(make([]byte, 300))} {
		_, err := w.admin.ListUsers(ctx, app.Page{Cursor: cursor})
		assertField(t, err, app.FieldCursor)
	}
}

func TestAdminManagesUsers(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	bob, err := w.admin.CreateUser(ctx, operator, app.NewUser{Username: "Bob", Password: "bob-password"})
	require.NoError(t, err)
	assert.Equal(t, "bob", bob.Username)
	assert.False(t, bob.Admin)
	_, err = w.admin.CreateUser(ctx, operator, app.NewUser{Username: "BOB", Password: "bob-password"})
	assert.ErrorIs(t, err, app.ErrUsernameTaken)
	_, err = w.admin.CreateUser(ctx, operator, app.NewUser{Username: "carl", Password: "short"})
	assertField(t, err, app.FieldPassword)

	yes := true
	got, err := w.admin.UpdateUser(ctx, operator, bob.ID, app.UserChange{Admin: &yes})
	require.NoError(t, err)
	assert.True(t, got.Admin)
	assert.Equal(t, bob.PasswordHash, got.PasswordHash)
	_, err = w.admin.UpdateUser(ctx, operator, "nobody", app.UserChange{Admin: &yes})
	assert.ErrorIs(t, err, app.ErrNoSuchUser)
	short := "short"
	_, err = w.admin.UpdateUser(ctx, operator, bob.ID, app.UserChange{Password: &short})
	assertField(t, err, app.FieldPassword)

	errs := all(50, func() error {
		_, err := w.admin.CreateUser(ctx, operator, app.NewUser{Username: "dora", Password: "dora-password"})
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		// Taken, or refused at once by the bounded queue of password
		// hashes (a fast 503).
		require.True(t, errors.Is(err, app.ErrUsernameTaken) || errors.Is(err, domain.ErrUnavailable), "%v", err)
	}
	assert.Equal(t, 1, won, "of 50 creations of one name, one succeeds")
}

func TestAdminPasswordResetEndsEverything(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := w.holdAll(t)
	pw := "reset-password"
	_, err := w.admin.UpdateUser(ctx, operator, "u-alice", app.UserChange{Password: &pw})
	require.NoError(t, err)
	w.requireNothingAlive(t, h)
	_, err = w.exchange("pw", passwordReq())
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the old password is refused")
	w.clock.Advance(time.Second)
	fresh := w.mustExchange("pw", app.TokenRequest{GrantType: "password", Username: "alice", Password: pw})
	assert.True(t, w.alive(fresh), "the new one works")
}

func TestAdminDisablingEndsEverythingAndSignsNobodyIn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := w.holdAll(t)
	yes, no := true, false
	got, err := w.admin.UpdateUser(ctx, operator, "u-alice", app.UserChange{Disabled: &yes})
	require.NoError(t, err)
	assert.True(t, got.Disabled)
	w.requireNothingAlive(t, h)
	w.clock.Advance(time.Second)

	_, err = w.exchange("pw", passwordReq())
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the password grant")
	_, err = w.accounts.Login(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "s"})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the login page")
	_, _, err = w.accounts.OpenSession(ctx, app.LoginAttempt{Username: "alice", Password: "alice-password", Source: "s"}, app.SessionStart{Door: domain.DoorAPI})
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "the accounts API")
	_, _, err = w.accounts.StartSession(ctx, w.alice(), app.SessionStart{Door: domain.DoorPage})
	assert.Error(t, err, "a sign-in checked before the change")

	_, err = w.admin.UpdateUser(ctx, operator, "u-alice", app.UserChange{Disabled: &no})
	require.NoError(t, err)
	fresh := w.mustExchange("pw", passwordReq())
	assert.True(t, w.alive(fresh), "enabled again, she signs in")
}

func TestAdminDeletesUsersWithTheAccountCascade(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	h := w.holdAll(t)
	errs := all(50, func() error { return w.admin.DeleteUser(ctx, operator, "u-alice") })
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.True(t, errors.Is(err, app.ErrNoSuchUser), "%v", err)
	}
	assert.Equal(t, 1, won, "of 50 deletions, one succeeds")
	w.requireNothingAlive(t, h)
	_, err := w.admin.User(ctx, "u-alice")
	assert.ErrorIs(t, err, app.ErrNoSuchUser)
	events, err := w.store.RecentAudit(ctx, 200)
	require.NoError(t, err)
	assert.Contains(t, auditTypes(events), domain.AuditUserDeleted)
}
