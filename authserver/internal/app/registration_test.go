package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// registrar is a client the configuration gave the register scope, as
// the demo gives admin-cli: its tokens are initial access tokens.
func (w *world) registrar(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	c := domain.Client{ID: "registrar", Type: domain.Confidential, SecretHash: hashing.HashGenerated("r"),
		AuthMethods: []domain.AuthMethod{domain.ClientSecretBasic}, GrantTypes: []domain.GrantType{domain.GrantClientCredentials},
		Scopes: domain.NewScope(app.RegisterScope), DefaultScopes: domain.NewScope(app.RegisterScope)}
	require.NoError(t, w.store.SaveClient(ctx, c))
	tok, err := w.tokens.Exchange(ctx, c, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	return tok.AccessToken
}

var anyone = app.Registrant{}

func nativeApp() app.ClientMetadata {
	return app.ClientMetadata{RedirectURIs: []string{"http://127.0.0.1:8765/cb"}, AuthMethod: domain.AuthNone, Name: "Native app"}
}

func TestRegistrationDefaultsAndManagement(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	reg, err := w.reg.Register(ctx, anyone, nativeApp())
	require.NoError(t, err)
	c := reg.Client
	assert.Len(t, c.ID, 22, "a random id")
	assert.Empty(t, reg.Secret, "a public client gets no secret")
	require.NotEmpty(t, reg.RegistrationToken)
	assert.Equal(t, app.HashToken(reg.RegistrationToken), c.RegistrationTokenHash, "the registration token is stored hashed")
	assert.Equal(t, domain.Public, c.Type)
	assert.Equal(t, []domain.AuthMethod{domain.AuthNone}, c.AuthMethods)
	assert.Equal(t, []domain.GrantType{domain.GrantAuthorizationCode}, c.GrantTypes, "RFC 7591 §2's default grant")
	assert.Equal(t, []string{"code"}, app.ResponseTypes(c))
	assert.Equal(t, domain.NewScope("current_time", "epoch_time"), c.Scopes, "every scope but the reserved ones")
	assert.True(t, c.RequiresPKCE(), "a public client uses PKCE")
	assert.Equal(t, domain.ManagedByRegistration, c.ManagedBy)
	assert.Empty(t, c.Owner)

	got, err := w.reg.Read(ctx, c.ID, reg.RegistrationToken)
	require.NoError(t, err)
	assert.Equal(t, c, got)

	other, err := w.reg.Register(ctx, anyone, nativeApp())
	require.NoError(t, err)
	for name, try := range map[string]struct{ id, token string }{
		"another client's token": {c.ID, other.RegistrationToken},
		"a made-up token":        {c.ID, "made-up"},
		"no token":               {c.ID, ""},
		"a client that is not":   {"nobody", reg.RegistrationToken},
		"a fixture's client":     {"web", reg.RegistrationToken},
		"a 50 KB token":          {c.ID, string(make([]byte, 50<<10))},
	} {
		_, err := w.reg.Read(ctx, try.id, try.token)
		assert.ErrorIs(t, err, app.ErrBadRegistrationToken, name)
		_, err = w.reg.Update(ctx, try.id, try.token, nativeApp())
		assert.ErrorIs(t, err, app.ErrBadRegistrationToken, name)
		assert.ErrorIs(t, w.reg.Delete(ctx, try.id, try.token), app.ErrBadRegistrationToken, name)
	}

	// RFC 7592 §2.2: the update replaces; what it leaves out takes the
	// default, here a confidential client with client_secret_basic.
	up, err := w.reg.Update(ctx, c.ID, reg.RegistrationToken, app.ClientMetadata{
		RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes:   []domain.GrantType{domain.GrantAuthorizationCode, domain.GrantRefreshToken},
		Scope:        domain.NewScope("epoch_time"),
	})
	require.NoError(t, err)
	assert.Equal(t, domain.Confidential, up.Client.Type)
	assert.Equal(t, []domain.AuthMethod{domain.ClientSecretBasic}, up.Client.AuthMethods, "only the method it registered")
	require.NotEmpty(t, up.Secret, "it became confidential: a new secret, shown once")
	assert.Empty(t, up.RegistrationToken, "the registration token stays as it was")
	assert.Equal(t, c.ID, up.Client.Name, "no client_name: named by its id")
	assert.Equal(t, []string{"https://app.example"}, up.Client.AllowedOrigins)
	authed, err := w.auth.Authenticate(ctx, app.ClientCredentials{ID: c.ID, Secret: up.Secret, Method: domain.ClientSecretBasic})
	require.NoError(t, err, "the new secret works")
	_, err = w.auth.Authenticate(ctx, app.ClientCredentials{ID: c.ID, Secret: up.Secret, Method: domain.ClientSecretPost})
	assert.Error(t, err, "by the method it registered only")
	assert.Equal(t, c.ID, authed.ID)

	again, err := w.reg.Update(ctx, c.ID, reg.RegistrationToken, app.ClientMetadata{
		RedirectURIs: []string{"https://app.example/cb"}, ClientSecret: up.Secret, AuthMethod: domain.ClientSecretPost,
	})
	require.NoError(t, err, "naming the current secret is fine")
	assert.Empty(t, again.Secret, "a confidential client keeps its secret")
	_, err = w.reg.Update(ctx, c.ID, reg.RegistrationToken, app.ClientMetadata{
		RedirectURIs: []string{"https://app.example/cb"}, ClientSecret: "chosen-by-the-client",
	})
	assert.Equal(t, domain.InvalidClientMetadata, domain.CodeOf(err), "a client cannot choose its secret")
}

func TestRegistrationRules(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vouched, err := w.reg.AuthorizeRegistrant(ctx, w.registrar(t))
	require.NoError(t, err)
	assert.Equal(t, app.Registrant{ClientID: "registrar"}, vouched)

	code := func(md app.ClientMetadata, rg app.Registrant) domain.ErrorCode {
		_, err := w.reg.Register(ctx, rg, md)
		return domain.CodeOf(err)
	}
	with := func(f func(*app.ClientMetadata)) app.ClientMetadata {
		md := nativeApp()
		f(&md)
		return md
	}
	for name, tc := range map[string]struct {
		md      app.ClientMetadata
		open    domain.ErrorCode // for anyone
		vouched domain.ErrorCode // with an initial access token
	}{
		"loopback http": {nativeApp(), "", ""},
		"http to another host": {with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"http://app.example/cb"} }),
			domain.InvalidRedirectURI, domain.InvalidRedirectURI},
		"a fragment": {with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"https://app.example/cb#x"} }),
			domain.InvalidRedirectURI, domain.InvalidRedirectURI},
		"a private-use scheme": {with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"com.example.app:/cb"} }),
			domain.InvalidRedirectURI, ""},
		"no redirect URI for the code grant": {with(func(m *app.ClientMetadata) { m.RedirectURIs = nil }),
			domain.InvalidRedirectURI, domain.InvalidRedirectURI},
		"eleven redirect URIs": {with(func(m *app.ClientMetadata) {
			m.RedirectURIs = nil
			for i := range 11 {
				m.RedirectURIs = append(m.RedirectURIs, fmt.Sprintf("https://app.example/%d", i))
			}
		}), domain.InvalidRedirectURI, domain.InvalidRedirectURI},
		"one redirect URI twice": {with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"https://a.example/", "https://a.example/"} }),
			domain.InvalidRedirectURI, domain.InvalidRedirectURI},
		"password": {with(func(m *app.ClientMetadata) { m.GrantTypes = []domain.GrantType{domain.GrantPassword} }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"implicit, which this server does not offer": {with(func(m *app.ClientMetadata) { m.ResponseTypes = []string{"token"} }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"an unknown grant": {with(func(m *app.ClientMetadata) { m.GrantTypes = []domain.GrantType{"urn:x"} }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"client_credentials for a confidential client": {with(func(m *app.ClientMetadata) {
			m.AuthMethod, m.GrantTypes, m.RedirectURIs = "", []domain.GrantType{domain.GrantClientCredentials}, nil
		}), domain.InvalidClientMetadata, ""},
		"client_credentials for a public client": {with(func(m *app.ClientMetadata) {
			m.GrantTypes = []domain.GrantType{domain.GrantClientCredentials}
		}), domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"a grant without its response type": {with(func(m *app.ClientMetadata) {
			m.GrantTypes, m.ResponseTypes = []domain.GrantType{domain.GrantAuthorizationCode}, []string{}
		}), domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"an unknown response type": {with(func(m *app.ClientMetadata) { m.ResponseTypes = []string{"code id_token"} }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"the admin scope": {with(func(m *app.ClientMetadata) { m.Scope = domain.NewScope(app.AdminScope) }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"the register scope": {with(func(m *app.ClientMetadata) { m.Scope = domain.NewScope(app.RegisterScope) }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"an unknown scope": {with(func(m *app.ClientMetadata) { m.Scope = domain.NewScope("everything") }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"private_key_jwt": {with(func(m *app.ClientMetadata) { m.AuthMethod = "private_key_jwt" }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
		"a name of 201 characters": {with(func(m *app.ClientMetadata) { m.Name = string(make([]rune, 201)) }),
			domain.InvalidClientMetadata, domain.InvalidClientMetadata},
	} {
		assert.Equal(t, tc.open, code(tc.md, anyone), "%s, open registration", name)
		assert.Equal(t, tc.vouched, code(tc.md, vouched), "%s, with an initial access token", name)
	}

	_, err = w.reg.Register(ctx, anyone, with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"http://evil.example/cb"} }))
	var fe *domain.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "redirect_uris", fe.Field)
	assert.Contains(t, fe.Err.Description, "loopback")

	// An update keeps what needed the token, but adds nothing more.
	native, err := w.reg.Register(ctx, vouched, with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"com.example.app:/cb"} }))
	require.NoError(t, err)
	_, err = w.reg.Update(ctx, native.Client.ID, native.RegistrationToken,
		with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"com.example.app:/cb", "http://localhost/cb"} }))
	require.NoError(t, err, "the private-use scheme it had stays")
	_, err = w.reg.Update(ctx, native.Client.ID, native.RegistrationToken,
		with(func(m *app.ClientMetadata) { m.RedirectURIs = []string{"com.example.other:/cb"} }))
	assert.Equal(t, domain.InvalidRedirectURI, domain.CodeOf(err), "a new one needs an initial access token")
}

func TestRegistrationModes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tokenMode := app.NewRegistration(app.RegistrationDeps{Admin: w.admin, Owned: w.store, Users: w.store, Secrets: w.hasher,
		Policy: app.RegistrationPolicy{Mode: app.RegistrationToken, Grants: []domain.GrantType{domain.GrantAuthorizationCode}}})
	_, err := tokenMode.AuthorizeRegistrant(ctx, "")
	assert.ErrorIs(t, err, app.ErrInitialTokenRequired)
	plain := w.mustExchange("svc", app.TokenRequest{GrantType: "client_credentials"})
	_, err = tokenMode.AuthorizeRegistrant(ctx, plain.AccessToken)
	assert.ErrorIs(t, err, app.ErrNotRegistrar, "an access token without the register scope")
	assert.Equal(t, domain.InsufficientScope, domain.CodeOf(err))
	_, err = tokenMode.AuthorizeRegistrant(ctx, "not.a.token")
	assert.Equal(t, domain.InvalidToken, domain.CodeOf(err))
	rg, err := tokenMode.AuthorizeRegistrant(ctx, w.registrar(t))
	require.NoError(t, err)
	assert.Equal(t, "registrar", rg.ClientID)

	open, err := w.reg.AuthorizeRegistrant(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, anyone, open, "open: anyone")
	_, err = w.reg.AuthorizeRegistrant(ctx, plain.AccessToken)
	assert.ErrorIs(t, err, app.ErrNotRegistrar, "open, but a token that is sent must be one")
}

// A registered client deleted through RFC 7592 takes what it holds with
// it, as the admin API's deletion does; of 50 deletions at once, one
// succeeds.
func TestRegistrationDeleteCascadesOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vouched, err := w.reg.AuthorizeRegistrant(ctx, w.registrar(t))
	require.NoError(t, err)
	reg, err := w.reg.Register(ctx, vouched, app.ClientMetadata{GrantTypes: []domain.GrantType{domain.GrantClientCredentials}})
	require.NoError(t, err)
	tok, err := w.tokens.Exchange(ctx, reg.Client, app.TokenRequest{GrantType: "client_credentials"})
	require.NoError(t, err)
	require.True(t, w.introspect("rs", tok.AccessToken).Active)

	errs := make([]error, 50)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w.reg.Delete(ctx, reg.Client.ID, reg.RegistrationToken) }()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, app.ErrBadRegistrationToken)
	}
	assert.Equal(t, 1, won, "exactly one deletion")
	assert.False(t, w.introspect("rs", tok.AccessToken).Active, "its token died with it")
	_, err = w.reg.Read(ctx, reg.Client.ID, reg.RegistrationToken)
	assert.ErrorIs(t, err, app.ErrBadRegistrationToken)
}

func TestRegistrationRaceAndBound(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reg, err := w.reg.Register(ctx, anyone, nativeApp())
			if assert.NoError(t, err) {
				ids[i] = reg.Client.ID
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "id %q twice", id)
		seen[id] = true
	}
	assert.Len(t, seen, 50, "50 registrations, 50 clients")

	_, total, err := w.store.ListClients(ctx, "", 1)
	require.NoError(t, err)
	small := app.NewRegistration(app.RegistrationDeps{Admin: w.admin, Owned: w.store, Users: w.store, Secrets: w.hasher,
		Policy: app.RegistrationPolicy{Mode: app.RegistrationOpen, MaxClients: total + 2, Grants: []domain.GrantType{domain.GrantAuthorizationCode}}})
	for range 2 {
		_, err := small.Register(ctx, anyone, nativeApp())
		require.NoError(t, err)
	}
	_, err = small.Register(ctx, anyone, nativeApp())
	assert.ErrorIs(t, err, app.ErrRegistryFull, "the registry holds max_clients")
	_, total2, err := w.store.ListClients(ctx, "", 1)
	require.NoError(t, err)
	assert.Equal(t, total+2, total2, "and nothing was stored")
}
