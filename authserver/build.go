package authserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/oauth2ref/authserver/internal/adapters/auditlog"
	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/precis"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
)

// How New assembles a server, step by step: the stores (withMemoryStores),
// what every use case shares (newCore), then the use cases and their HTTP
// edge (newHandlers).

// memoryRateKeys caps the buckets of the memory rate limiter (about 200
// bytes each).
const memoryRateKeys = 1 << 16

// withMemoryStores fills every group the embedder left out with one memory
// store of this server's own, the signing keys with the key file if there
// is one, and the audit trail with the JSON log.
func (s settings) withMemoryStores() Stores {
	st := s.stores
	mem := memory.New(s.clock, s.LoginLimits.policy())
	if st.Clients == nil {
		st.Clients = mem
	}
	if st.Users == nil {
		st.Users = mem
	}
	if st.Batch == nil && st.Clients == ClientStore(mem) && st.Users == UserStore(mem) {
		st.Batch = mem
	}
	if st.RefreshTokens == nil {
		st.RefreshTokens = mem
	}
	if st.Revocations == nil {
		st.Revocations = mem
	}
	if st.Sessions == nil {
		st.Sessions = mem
	}
	if st.Codes == nil {
		st.Codes = mem
	}
	if st.Consents == nil {
		st.Consents = mem
	}
	if st.Attempts == nil {
		st.Attempts = mem.Limiter()
	}
	if st.Rates == nil {
		st.Rates = memory.NewRateLimiter(memoryRateKeys, s.clock)
	}
	switch {
	case st.Keys != nil:
	case s.keyFile != "":
		st.Keys = jwtkeys.NewFileStore(s.keyFile)
	default:
		st.Keys = mem
	}
	if st.Audit == nil {
		auditLog := s.auditLog
		if auditLog == nil {
			auditLog = s.log
		}
		st.Audit = auditlog.NewLog(auditLog.Named("audit"))
	}
	return st
}

// core is what the use cases share: the password hasher, the decoy hash,
// the credential rules and the fixture loader.
type core struct {
	hasher   *hashing.Hasher
	decoy    string
	creds    app.Credentials
	fixtures *fixtureLoader
}

func newCore(ctx context.Context, s settings, st Stores) (*core, error) {
	hasher := hashing.NewQueuedHasher(hashing.Argon2Params(s.Argon2), s.HashConcurrency, s.HashQueue, s.HashWait)
	// The decoy is verified for unknown users and clients, so that they
	// take as long as a wrong password. Its password is random: nobody can
	// make it match, not even once to get it cached.
	decoy, err := hasher.HashPassword(ctx, rand.Text())
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	return &core{
		hasher:   hasher,
		decoy:    decoy,
		creds:    app.Credentials{Users: st.Users, Passwords: hasher, Limiter: st.Attempts, Text: precis.Rules{}, DecoyHash: decoy},
		fixtures: newFixtureLoader(st, hasher, s.secrets(), s.clock),
	}, nil
}

// newHandlers builds the use cases the settings ask for and the HTTP
// handlers that serve them: the endpoints and pages, the metadata, and the
// accounts API.
func newHandlers(s settings, st Stores, c *core, keys *jwtkeys.KeySet) (handlers, error) {
	now := s.clock
	minter := app.NewMinter(app.MinterDeps{Signer: keys, IDTokens: keys, Refresh: st.RefreshTokens, Policy: app.TokenPolicy{
		Issuer: s.Issuer, Audience: s.Audience, AccessTTL: s.AccessTTL, MaxAccessTTL: s.MaxAccessTTL, RefreshTTL: s.RefreshTTL,
	}, Now: now})
	grants, browser, implicit := newGrants(s, st, c, minter)
	tokens := app.NewTokenEndpoint(st.Audit, now, grants...)

	// User passwords are verified in full every time; client secrets go
	// through the cache (see hashing.CachedVerifier for why).
	clientSecrets := hashing.NewCachedVerifier(c.hasher, s.SecretCacheSize)
	verifier := jwtkeys.NewVerifyCache(keys, s.VerifyCacheSize, now)
	origins, _ := st.Clients.(OriginIndex)
	if origins == nil {
		origins = noOrigins{}
	}
	prog := &tokenAPI{
		clients: st.Clients,
		auth: app.NewClientAuthenticator(app.ClientAuthDeps{
			Clients: st.Clients, Secrets: clientSecrets, Limiter: st.Attempts, DecoyHash: c.decoy,
		}),
		tokens:       tokens,
		introspector: app.NewIntrospector(jwtkeys.NewVerifyCache(keys, s.VerifyCacheSize, now), st.Revocations, st.RefreshTokens, now),
		revoker:      app.NewRevoker(keys, st.Revocations, st.RefreshTokens, st.Audit, now),
		limits:       rateLimits(s, st.Rates),
	}
	deps := httpapi.Deps{
		Log:            s.log,
		TrustedProxies: s.trustedProxies,
		Clients:        prog.auth,
		Tokens:         tokens,
		Introspector:   prog.introspector,
		Revoker:        prog.revoker,
		JWKS:           keys.JWKS,
		Scopes:         st.Clients,
		Origins:        origins,
		MaxBodyBytes:   s.MaxBodyBytes,
		RateLimits:     prog.limits,
		Metadata: httpapi.Metadata{
			Issuer: s.Issuer, BaseURL: s.baseURL, GrantTypes: tokens.GrantTypes(), ResponseTypes: []string{},
		},
	}
	// Known-device cookies are the login page's; the API has no cookies.
	var devices *app.DeviceCookies
	if browser {
		cookieKey := s.cookieKey
		if cookieKey == nil {
			cookieKey = []byte(rand.Text() + rand.Text())
		}
		devices = app.NewDeviceCookies(cookieKey, now)
	}
	registry := clientRegistryOf(st)
	accounts := newAccounts(s, st, c, devices, registry)
	admin := newAdmin(s, st, accounts, keys, registry)
	var idTokenAlgs []string // OpenID Connect rides on the browser flows (below)
	if browser {
		idTokenAlgs = minter.IDTokenAlgs()
	}
	reg, err := newRegistration(s, st, admin, clientSecrets, idTokenAlgs)
	if err != nil {
		return handlers{}, err
	}
	if reg != nil {
		deps.RegisterLimits = httpapi.NewRateLimits(httpapi.RateLimitConfig{
			Limiter: st.Rates, Register: s.Registration.perSource(), TrustedProxies: s.trustedProxies, Log: s.log,
		})
	}
	if reg != nil && s.Registration.Mode != RegistrationOff {
		deps.Registration = reg
		deps.Metadata.RegistrationEndpoint = true
	}
	if s.Registration.DeveloperPages && !browser {
		return handlers{}, errors.New("authserver: the developer pages need the browser flows: offer the authorization_code grant")
	}
	if browser {
		authz := app.NewAuthorizer(app.AuthorizerDeps{
			Clients: st.Clients, Scopes: st.Clients, Users: st.Users, Sessions: accounts,
			Consents: st.Consents, Codes: st.Codes, Minter: minter, IDTokens: keys,
			Policy: app.AuthorizationPolicy{Issuer: s.Issuer, CodeTTL: s.CodeTTL, Implicit: implicit},
			Audit:  st.Audit, Now: now,
		})
		deps.Authorizer = authz
		deps.Accounts = accounts
		deps.Consents = app.NewConsents(st.Consents, st.Clients, st.RefreshTokens, st.Revocations, st.Audit, s.MaxAccessTTL, now)
		deps.Pages = httpapi.PageConfig{
			SecureCookies: strings.HasPrefix(s.Issuer, "https://"), MinPassword: s.MinPassword,
			Developer: s.Registration.DeveloperPages, ClientsPerUser: s.Registration.ClientsPerUser,
		}
		if s.Registration.DeveloperPages {
			deps.Developer = reg
		}
		deps.Metadata.ResponseTypes = authz.ResponseTypes()
		deps.Metadata.ResponseModes = authz.ResponseModes()
		deps.Metadata.AuthorizationEndpoint = true
		deps.Metadata.CodeChallengeMethods = []string{"S256"}
		// OpenID Connect rides on the browser flows: the code flow issues
		// the ID tokens, the pages hold the sessions they tell of.
		deps.UserInfo = app.NewUserInfoEndpoint(verifier, st.Revocations, st.Users, now)
		deps.Logouts = app.NewLogouts(st.Clients, keys)
		deps.Metadata.OpenID = &httpapi.OpenIDMetadata{
			IDTokenAlgs: minter.IDTokenAlgs(), PromptValues: app.PromptValues, UserInfo: true, EndSession: true,
		}
	}
	handler, err := httpapi.NewHandler(deps)
	if err != nil {
		return handlers{}, fmt.Errorf("authserver: %w", err)
	}
	api, err := httpapi.NewAPIHandler(httpapi.APIDeps{
		Log: s.log, TrustedProxies: s.trustedProxies, Accounts: accounts, Admin: admin,
		SecureCookies: strings.HasPrefix(s.Issuer, "https://"), MaxBodyBytes: s.MaxBodyBytes, RateLimits: deps.RateLimits,
	})
	if err != nil {
		return handlers{}, fmt.Errorf("authserver: %w", err)
	}
	return handlers{oauth: handler, metadata: httpapi.NewMetadataHandler(deps), openID: httpapi.NewOpenIDConfigurationHandler(deps), api: api, admin: admin, tokens: prog}, nil
}

// handlers are what a server serves: the OAuth endpoints and pages, the
// metadata and discovery documents, the accounts and admin APIs; and the
// use cases the library's programmatic calls share with them: the admin
// use cases, and the token use cases (tokens.go).
type handlers struct {
	oauth, metadata, openID, api http.Handler
	admin                        *app.Admin
	tokens                       *tokenAPI
}

// clientRegistry is the client store with what deleting a client takes
// of the other stores: nil Clients if the stores cannot (see newAdmin).
type clientRegistry struct {
	Clients  app.ClientRegistry
	Owned    app.OwnedClients
	Refresh  app.ClientRevoker
	Consents app.ClientConsentDeleter
}

// clientRegistryOf finds the registry in the stores. An embedder's client
// store that cannot list, create atomically or delete for good
// (app.ClientRegistry) leaves the admin use cases' client calls
// unsupported; the cascades of a deleted client need the refresh token
// and consent stores' part, which every store here has, and an
// embedder's may not.
func clientRegistryOf(st Stores) clientRegistry {
	var r clientRegistry
	r.Clients, _ = st.Clients.(app.ClientRegistry)
	r.Owned, _ = st.Clients.(app.OwnedClients)
	var okRefresh, okConsents bool
	r.Refresh, okRefresh = st.RefreshTokens.(app.ClientRevoker)
	r.Consents, okConsents = st.Consents.(app.ClientConsentDeleter)
	if !okRefresh || !okConsents {
		r.Clients = nil // a client it deletes would leave what it held
	}
	return r
}

// owned is the registry as a closing account needs it: nil unless it can
// find clients by owner.
func (r clientRegistry) owned() app.OwnedClientStore {
	if r.Clients == nil || r.Owned == nil {
		return nil
	}
	return struct {
		app.ClientRegistry
		app.OwnedClients
	}{r.Clients, r.Owned}
}

// newAccounts builds the accounts use cases: sign-in and sign-up, the
// sessions, and the cascades of a password change or a closed account
// (which deletes the clients the user registered). devices may be nil (no
// pages, no known-device cookies).
func newAccounts(s settings, st Stores, c *core, devices *app.DeviceCookies, reg clientRegistry) *app.Accounts {
	return app.NewAccounts(app.AccountsDeps{
		Users: st.Users, Passwords: c.hasher, Hasher: c.hasher, Limiter: st.Attempts, Text: c.creds.Text,
		Devices: devices, Sessions: st.Sessions, DecoyHash: c.decoy, Policy: app.PasswordPolicy{MinLength: s.MinPassword, MaxLength: s.MaxPassword},
		Lifetimes: app.SessionPolicy{TTL: s.SessionTTL, MaxTTL: s.MaxSessionTTL, PerUser: s.SessionsPerUser},
		Consents:  st.Consents, Refresh: st.RefreshTokens, Revocations: st.Revocations, MaxAccessTTL: s.MaxAccessTTL,
		Clients: reg.owned(), ClientRefresh: reg.Refresh, ClientConsents: reg.Consents,
		Now: s.clock, Audit: st.Audit,
	})
}

// newAdmin builds the admin use cases on the stores; without a registry
// (clientRegistryOf) the client calls are unsupported.
func newAdmin(s settings, st Stores, accounts *app.Accounts, tokens app.AccessTokenVerifier, reg clientRegistry) *app.Admin {
	directory, _ := st.Users.(app.UserDirectory)
	return app.NewAdmin(app.AdminDeps{
		Clients: reg.Clients, Users: directory, Scopes: st.Clients, Accounts: accounts,
		Refresh: reg.Refresh, Consents: reg.Consents, Revocations: st.Revocations,
		Tokens: tokens, NewSecret: hashing.NewGeneratedSecret,
		MaxAccessTTL: s.MaxAccessTTL, Now: s.clock, Audit: st.Audit,
	})
}

// newRegistration builds dynamic client registration and the developer
// pages' use cases, nil if neither is on. They need a registry that
// finds clients by owner.
func newRegistration(s settings, st Stores, admin *app.Admin, secrets app.SecretVerifier, idTokenAlgs []string) (*app.Registration, error) {
	if !s.Registration.enabled() {
		return nil, nil
	}
	reg := clientRegistryOf(st)
	if reg.owned() == nil {
		return nil, errors.New("authserver: registration needs a client store the admin use cases manage, which finds clients by owner")
	}
	r := s.Registration
	return app.NewRegistration(app.RegistrationDeps{
		Admin: admin, Owned: reg.Owned, Users: st.Users, Secrets: secrets,
		Policy: app.RegistrationPolicy{
			Mode: r.Mode, Grants: s.Grants, MaxClients: r.MaxClients, PerUser: r.ClientsPerUser, IDTokenAlgs: idTokenAlgs,
		},
	}), nil
}

// newGrants returns the grants the settings offer, and whether the browser
// flows (authorization endpoint, pages) and implicit are on.
func newGrants(s settings, st Stores, c *core, minter *app.Minter) (grants []app.Grant, browser, implicit bool) {
	now := s.clock
	for _, g := range s.Grants {
		switch g {
		case GrantAuthorizationCode:
			grants = append(grants, app.NewAuthorizationCodeGrant(st.Codes, st.RefreshTokens, st.Revocations, minter, now))
			browser = true
		case GrantPassword:
			grants = append(grants, app.NewPasswordGrant(c.creds, minter))
		case GrantClientCredentials:
			grants = append(grants, app.NewClientCredentialsGrant(minter))
		case GrantRefreshToken:
			grants = append(grants, app.NewRefreshGrant(st.RefreshTokens, st.Revocations, minter, now))
		case GrantImplicit:
			browser, implicit = true, true
		}
	}
	return grants, browser, implicit
}

// rateLimits are the request rate limits the settings ask for, nil if
// none.
func rateLimits(s settings, limiter RateLimiter) *httpapi.RateLimits {
	if s.RateLimits.Disabled {
		return nil
	}
	return httpapi.NewRateLimits(httpapi.RateLimitConfig{
		Limiter:        limiter,
		Source:         s.RateLimits.Source.domain(),
		Public:         s.RateLimits.publicRateLimit(),
		Client:         s.RateLimits.Client.domain(),
		TrustedProxies: s.trustedProxies,
		Log:            s.log,
	})
}

// noOrigins is the origin index of a client store that keeps none: CORS
// preflights are refused.
type noOrigins struct{}

func (noOrigins) OriginAllowed(context.Context, string) (bool, error) { return false, nil }
