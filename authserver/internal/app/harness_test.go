package app_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/precis"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

const issuer = "http://as.test"

// world is the use-case graph wired on the memory store and real keys, with
// a settable clock: the same wiring as the server, minus HTTP.
type world struct {
	t        *testing.T
	clock    *storagetest.Clock
	store    *memory.Store
	keys     *jwtkeys.KeySet
	idTokens *fakeIDTokens
	auth     *app.ClientAuthenticator
	tokens   *app.TokenEndpoint
	intro    *app.Introspector
	revoker  *app.Revoker
	authz    *app.Authorizer
	minter   *app.Minter
	accounts *app.Accounts
	consents *app.Consents
	admin    *app.Admin
	reg      *app.Registration
	clients  map[string]domain.Client
	hasher   *countingHasher
	decoy    string
	text     app.TextRules
}

var cheap = hashing.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

// testLimits: 3 free failures per account and source (or device), 10 per
// account, 3 per source; then 1 s doubling to a minute.
var testLimits = app.LimitPolicy{
	AccountSource: domain.Throttle{Free: 3, Base: time.Second, Max: time.Minute, Window: time.Hour},
	Account:       domain.Throttle{Free: 10, Base: time.Second, Max: time.Minute, Window: time.Hour},
	Source:        domain.Throttle{Free: 3, Base: time.Second, Max: time.Minute, Window: time.Hour},
}

// countingHasher counts the slow (argon2id) verifications: how many
// guesses were evaluated. fail, if set, fails every verification.
type countingHasher struct {
	*hashing.Hasher
	slow atomic.Int64
	fail error
}

func (h *countingHasher) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	if h.fail != nil {
		return false, h.fail
	}
	if hashing.IsSlow(hash) {
		h.slow.Add(1)
	}
	return h.Hasher.VerifySecret(ctx, hash, secret)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, testLimits)
	hasher := &countingHasher{Hasher: hashing.NewHasher(cheap, 2)}
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
			RedirectURIs: []string{"https://app.example/cb", "https://app.example/other?keep=1"},
			Scopes:       domain.NewScope(append([]string{"openid", "profile", "email"}, scopes...)...), DefaultScopes: scopes,
			PostLogoutRedirectURIs: []string{"https://app.example/bye"}},
		"web-es": {ID: "web-es", Type: domain.Confidential, SecretHash: hashing.HashGenerated("web-es-secret"), AuthMethods: both,
			GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://es.example/cb"},
			Scopes: domain.NewScope("openid"), IDTokenAlg: "ES256"},
		"web-eddsa": {ID: "web-eddsa", Type: domain.Confidential, SecretHash: hashing.HashGenerated("web-ed-secret"), AuthMethods: both,
			GrantTypes: []domain.GrantType{domain.GrantAuthorizationCode}, RedirectURIs: []string{"https://ed.example/cb"},
			Scopes: domain.NewScope("openid"), IDTokenAlg: "EdDSA"},
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
	require.NoError(t, store.SaveUser(ctx, domain.User{ID: "u-alice", Username: "alice", PasswordHash: hash("alice-password"),
		Name: "Alice Example", Email: "alice@example.com", EmailVerified: true, UpdatedAt: clock.Now()}))
	decoy := hash("decoy")

	idTokens := newFakeIDTokens("RS256", "ES256")
	minter := app.NewMinter(app.MinterDeps{Signer: keys, IDTokens: idTokens, Refresh: store, Policy: app.TokenPolicy{
		Issuer: issuer, Audience: []string{"rs"}, AccessTTL: time.Minute, MaxAccessTTL: time.Hour, RefreshTTL: 24 * time.Hour,
	}, Now: clock.Now})
	tokens := app.NewTokenEndpoint(store, clock.Now,
		app.NewPasswordGrant(app.Credentials{Users: store, Passwords: hasher, Limiter: store.Limiter(), Text: precis.Rules{}, DecoyHash: decoy}, minter),
		app.NewClientCredentialsGrant(minter),
		app.NewRefreshGrant(store, store, minter, clock.Now),
		app.NewAuthorizationCodeGrant(store, store, store, minter, clock.Now),
	)
	accounts := app.NewAccounts(app.AccountsDeps{
		Users: store, Passwords: hasher, Hasher: hasher, Limiter: store.Limiter(), Text: precis.Rules{},
		Devices: app.NewDeviceCookies([]byte("a test key of thirty-two bytes..."), clock.Now), Sessions: store,
		DecoyHash: decoy, Policy: app.PasswordPolicy{MinLength: 8, MaxLength: 64},
		Lifetimes: app.SessionPolicy{TTL: time.Hour, MaxTTL: 24 * time.Hour, PerUser: 5},
		Consents:  store, Refresh: store, Revocations: store, MaxAccessTTL: time.Hour,
		Clients: store, ClientRefresh: store, ClientConsents: store,
		Now: clock.Now, Wait: func(time.Duration) {}, Audit: store,
	})
	admin := app.NewAdmin(app.AdminDeps{
		Clients: store, Users: store, Scopes: store, Accounts: accounts, Refresh: store, Consents: store, Revocations: store,
		Tokens: keys, NewSecret: hashing.NewGeneratedSecret, MaxAccessTTL: time.Hour, Now: clock.Now, Audit: store,
	})
	reg := app.NewRegistration(app.RegistrationDeps{
		Admin: admin, Owned: store, Users: store, Secrets: hasher,
		Policy: app.RegistrationPolicy{
			Mode: app.RegistrationOpen, MaxClients: 1000, PerUser: 3,
			Grants: []domain.GrantType{domain.GrantAuthorizationCode, domain.GrantRefreshToken, domain.GrantClientCredentials, domain.GrantPassword},
		},
	})
	for _, sc := range []string{"current_time", "epoch_time"} {
		require.NoError(t, store.SaveScope(ctx, domain.ScopeInfo{Name: sc, Description: sc}))
	}
	return &world{
		t: t, clock: clock, store: store, keys: keys, admin: admin, reg: reg, idTokens: idTokens,
		auth: app.NewClientAuthenticator(app.ClientAuthDeps{
			Clients: store, Secrets: hashing.NewCachedVerifier(hasher, 10), Limiter: store.Limiter(), DecoyHash: decoy,
		}),
		tokens:  tokens,
		minter:  minter,
		intro:   app.NewIntrospector(keys, store, store, clock.Now),
		revoker: app.NewRevoker(keys, store, store, store, clock.Now),
		authz: app.NewAuthorizer(app.AuthorizerDeps{
			Clients: store, Scopes: store, Users: store, Sessions: accounts, Consents: store, Codes: store, Minter: minter,
			IDTokens: idTokens,
			Policy:   app.AuthorizationPolicy{Issuer: issuer, CodeTTL: time.Minute, Implicit: true}, Audit: store, Now: clock.Now,
		}),
		accounts: accounts,
		consents: app.NewConsents(store, store, store, store, store, time.Hour, clock.Now),
		clients:  clients,
		hasher:   hasher,
		decoy:    decoy,
		text:     precis.Rules{},
	}
}

func (w *world) client(id string) domain.Client { return w.clients[id] }

// alice is the demo user as stored now.
func (w *world) alice() domain.User {
	w.t.Helper()
	u, err := w.store.FindUser(context.Background(), "u-alice")
	require.NoError(w.t, err)
	return u
}

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
