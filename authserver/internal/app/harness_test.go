package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

const issuer = "http://as.test"

// world is the use-case graph wired on the memory store and real keys, with
// a settable clock: the same wiring as the server, minus HTTP.
type world struct {
	t        *testing.T
	clock    *storagetest.Clock
	store    *memory.Store
	keys     *jwtkeys.KeySet
	auth     *app.ClientAuthenticator
	tokens   *app.TokenEndpoint
	intro    *app.Introspector
	revoker  *app.Revoker
	authz    *app.Authorizer
	accounts *app.Accounts
	grants   *app.Grants
	clients  map[string]domain.Client
}

var cheap = hashing.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{MaxFailures: 3, Window: time.Minute})
	hasher := hashing.NewHasher(cheap, 2)
	keys, err := jwtkeys.Open(ctx, store, jwtkeys.Options{Algorithm: jwtkeys.ES256, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
	require.NoError(t, err)

	hash := func(s string) string {
		h, err := hasher.HashPassword(ctx, s)
		require.NoError(t, err)
		return h
	}
	both := []domain.AuthMethod{domain.ClientSecretBasic, domain.ClientSecretPost}
	scopes := domain.NewScope("current_time", "epoch_time")
	clients := map[string]domain.Client{
		"pw": {ID: "pw", Type: domain.Confidential, SecretHash: hash("pw-secret"), AuthMethods: both,
			GrantTypes: []domain.GrantType{domain.GrantPassword}, Scopes: scopes, DefaultScopes: scopes, AccessTokenTTL: 5 * time.Second},
		"pw-refresh": {ID: "pw-refresh", Type: domain.Confidential, SecretHash: hash("pwr-secret"), AuthMethods: both,
			GrantTypes: []domain.GrantType{domain.GrantPassword, domain.GrantRefreshToken}, Scopes: scopes, DefaultScopes: scopes},
		"svc": {ID: "svc", Type: domain.Confidential, SecretHash: hashing.HashGenerated("svc-secret"), AuthMethods: both,
			GrantTypes: []domain.GrantType{domain.GrantClientCredentials}, Scopes: scopes, DefaultScopes: domain.NewScope("current_time")},
		"basic-only": {ID: "basic-only", Type: domain.Confidential, SecretHash: hashing.HashGenerated("b-secret"),
			AuthMethods: []domain.AuthMethod{domain.ClientSecretBasic}, GrantTypes: []domain.GrantType{domain.GrantClientCredentials}},
		"rs": {ID: "rs", Type: domain.Confidential, SecretHash: hashing.HashGenerated("rs-secret"), AuthMethods: both, Introspection: true},
		"public": {ID: "public", Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone},
			GrantTypes: []domain.GrantType{domain.GrantPassword, domain.GrantRefreshToken}, Scopes: scopes, DefaultScopes: scopes},
		"web": {ID: "web", Type: domain.Confidential, SecretHash: hashing.HashGenerated("web-secret"), AuthMethods: both,
			GrantTypes:   []domain.GrantType{domain.GrantAuthorizationCode, domain.GrantRefreshToken},
			RedirectURIs: []string{"https://app.example/cb", "https://app.example/other?keep=1"}, Scopes: scopes, DefaultScopes: scopes},
		"spa": {ID: "spa", Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone},
			GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example/cb"}, Scopes: scopes, DefaultScopes: scopes},
		"plain-ok": {ID: "plain-ok", Type: domain.Confidential, SecretHash: hashing.HashGenerated("p"), AuthMethods: both, AllowPlainPKCE: true,
			GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://p.example/cb"}, Scopes: scopes, DefaultScopes: scopes},
		"no-pkce": {ID: "no-pkce", Type: domain.Confidential, SecretHash: hashing.HashGenerated("n"), AuthMethods: both, PKCEOptional: true,
			GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://n.example/cb"}, Scopes: scopes, DefaultScopes: scopes},
		"legacy": {ID: "legacy", Type: domain.Public, AuthMethods: []domain.AuthMethod{domain.AuthNone},
			GrantTypes: []domain.GrantType{domain.GrantImplicit}, RedirectURIs: []string{"https://legacy.example/cb"}, Scopes: scopes, DefaultScopes: scopes},
	}
	for _, c := range clients {
		require.NoError(t, c.Validate())
		require.NoError(t, store.SaveClient(ctx, c))
	}
	require.NoError(t, store.SaveUser(ctx, domain.User{ID: "u-alice", Username: "alice", PasswordHash: hash("alice-password")}))
	decoy := hash("decoy")

	minter := app.NewMinter(keys, store, app.TokenPolicy{
		Issuer: issuer, Audience: []string{"rs"}, AccessTTL: time.Minute, MaxAccessTTL: time.Hour, RefreshTTL: 24 * time.Hour,
	}, clock.Now)
	tokens := app.NewTokenEndpoint(store, clock.Now,
		app.NewPasswordGrant(store, hasher, store.Limiter(), minter, decoy),
		app.NewClientCredentialsGrant(minter),
		app.NewRefreshGrant(store, store, minter, clock.Now),
		app.NewAuthorizationCodeGrant(store, store, store, minter, clock.Now),
	)
	return &world{
		t: t, clock: clock, store: store, keys: keys,
		auth:    app.NewClientAuthenticator(store, hashing.NewCachedVerifier(hasher, 10)),
		tokens:  tokens,
		intro:   app.NewIntrospector(keys, store, store, clock.Now),
		revoker: app.NewRevoker(keys, store, store, store, clock.Now),
		authz: app.NewAuthorizer(store, store, store, minter,
			app.AuthorizationPolicy{Issuer: issuer, CodeTTL: time.Minute, Implicit: true}, store, clock.Now),
		accounts: app.NewAccounts(app.AccountsDeps{
			Users: store, Passwords: hasher, Hasher: hasher, Limiter: store.Limiter(), Sessions: store,
			DecoyHash: decoy, Policy: app.PasswordPolicy{MinLength: 8, MaxLength: 64}, SessionTTL: time.Hour, Now: clock.Now, Audit: store,
		}),
		grants:  app.NewGrants(store, store, store, store, store, time.Hour, clock.Now),
		clients: clients,
	}
}

func (w *world) client(id string) domain.Client { return w.clients[id] }

// exchange runs a token request for an already-authenticated client.
func (w *world) exchange(clientID string, req app.TokenRequest) (app.TokenResponse, error) {
	return w.tokens.Exchange(context.Background(), w.client(clientID), req)
}

func (w *world) mustExchange(clientID string, req app.TokenRequest) app.TokenResponse {
	w.t.Helper()
	resp, err := w.exchange(clientID, req)
	require.NoError(w.t, err)
	return resp
}

func (w *world) introspect(callerID, token string) app.Introspection {
	w.t.Helper()
	res, err := w.intro.Introspect(context.Background(), w.client(callerID), token, "")
	require.NoError(w.t, err)
	return res
}

func passwordReq() app.TokenRequest {
	return app.TokenRequest{GrantType: "password", Username: "alice", Password: "alice-password"}
}
