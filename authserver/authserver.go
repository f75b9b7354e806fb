// Package authserver is an OAuth 2.0 authorization server as a library. New
// builds one from options with safe defaults (memory storage, a generated
// signing key); Handler serves its endpoints and pages, MetadataHandler its
// RFC 8414 document, to be mounted in any router:
//
//	srv, err := authserver.New(ctx, authserver.WithIssuer("https://id.example.com"))
//	r.Mount("/oauth", srv.Handler())
//	r.Handle("/.well-known/oauth-authorization-server", srv.MetadataHandler())
//
// cmd/authserver is built the same way.
package authserver

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/fixtures"
	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/precis"
	"github.com/oauth2ref/authserver/internal/app"
)

// Server is a configured authorization server.
type Server struct {
	handler  http.Handler
	metadata http.Handler
	keys     *jwtkeys.KeySet
	stores   *stores
	fixtures *fixtureLoader

	stop context.CancelFunc
	wg   sync.WaitGroup
}

func configure(opts []Option) (settings, error) {
	s := defaults()
	for _, o := range opts {
		if err := o(&s); err != nil {
			return s, fmt.Errorf("authserver: %w", err)
		}
	}
	if s.baseURL == "" {
		s.baseURL = s.issuer + "/oauth"
	}
	// The maximum caps every lifetime, the default's included.
	s.accessTTL = min(s.accessTTL, s.maxAccessTTL)
	return s, nil
}

// New builds a server. Background work (key reloads, expiry sweeps) runs
// until Close.
func New(ctx context.Context, opts ...Option) (srv *Server, err error) {
	s, err := configure(opts)
	if err != nil {
		return nil, err
	}
	now := s.clock
	st, err := openStores(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	hasher := hashing.NewQueuedHasher(hashing.Argon2Params(s.argon2), s.hashConcurrency, s.hashQueue, s.hashWait)

	if len(s.fixtures) > 0 {
		sum, err := loadFixtures(ctx, s.fixtures, st, hasher, s)
		if err != nil {
			return nil, err
		}
		s.log.Info("fixtures loaded", zap.Strings("files", s.fixtures), zap.Int("scopes", sum.Scopes),
			zap.Int("clients_written", sum.ClientsWritten), zap.Int("clients_unchanged", sum.ClientsUnchanged),
			zap.Int("users_written", sum.UsersWritten), zap.Int("users_unchanged", sum.UsersUnchanged))
	}

	keys, err := openKeys(ctx, s, st.keys)
	if err != nil {
		return nil, err
	}

	// User passwords are verified in full every time; client secrets go
	// through the cache (see hashing.CachedVerifier for why).
	clientSecrets := hashing.NewCachedVerifier(hasher, s.secretCacheSize)
	// The decoy is verified for unknown users and clients, so that they
	// take as long as a wrong password. Its password is random: nobody can
	// make it match, not even once to get it cached.
	decoy, err := hasher.HashPassword(ctx, rand.Text())
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	creds := app.Credentials{Users: st.users, Passwords: hasher, Limiter: st.limiter, Text: precis.Rules{}, DecoyHash: decoy}

	minter := app.NewMinter(keys, st.refresh, app.TokenPolicy{
		Issuer:       s.issuer,
		Audience:     s.audience,
		AccessTTL:    s.accessTTL,
		MaxAccessTTL: s.maxAccessTTL,
		RefreshTTL:   s.refreshTTL,
	}, now)
	var grants []app.Grant
	browser, implicit := false, false
	for _, g := range s.grants {
		switch g {
		case GrantAuthorizationCode:
			grants = append(grants, app.NewAuthorizationCodeGrant(st.codes, st.refresh, st.revocations, minter, now))
			browser = true
		case GrantPassword:
			grants = append(grants, app.NewPasswordGrant(creds, minter))
		case GrantClientCredentials:
			grants = append(grants, app.NewClientCredentialsGrant(minter))
		case GrantRefreshToken:
			grants = append(grants, app.NewRefreshGrant(st.refresh, st.revocations, minter, now))
		case GrantImplicit:
			browser, implicit = true, true
		}
	}
	tokens := app.NewTokenEndpoint(st.audit, now, grants...)

	deps := httpapi.Deps{
		Log:            s.log,
		TrustedProxies: s.trustedProxies,
		Clients: app.NewClientAuthenticator(app.ClientAuthDeps{
			Clients: st.clients, Secrets: clientSecrets, Limiter: st.limiter, DecoyHash: decoy,
		}),
		Tokens:       tokens,
		Introspector: app.NewIntrospector(jwtkeys.NewVerifyCache(keys, s.verifyCacheSize, now), st.revocations, st.refresh, now),
		Revoker:      app.NewRevoker(keys, st.revocations, st.refresh, st.audit, now),
		JWKS:         keys.JWKS,
		Scopes:       st.clients,
		Origins:      st.clients,
		MaxBodyBytes: s.maxBodyBytes,
		RateLimits:   rateLimits(s, st.rateLimiter),
		Metadata: httpapi.Metadata{
			Issuer:        s.issuer,
			BaseURL:       s.baseURL,
			GrantTypes:    tokens.GrantTypes(),
			ResponseTypes: []string{},
		},
	}
	if browser {
		authz := app.NewAuthorizer(st.clients, st.consents, st.codes, minter, app.AuthorizationPolicy{
			Issuer: s.issuer, CodeTTL: s.codeTTL, Implicit: implicit,
		}, st.audit, now)
		deps.Authorizer = authz
		cookieKey := s.cookieKey
		if cookieKey == nil {
			cookieKey = []byte(rand.Text() + rand.Text())
		}
		deps.Accounts = app.NewAccounts(app.AccountsDeps{
			Users: st.users, Passwords: hasher, Hasher: hasher, Limiter: st.limiter, Text: creds.Text,
			Devices: app.NewDeviceCookies(cookieKey, now), Sessions: st.sessions,
			DecoyHash: decoy, Policy: app.PasswordPolicy{MinLength: s.minPassword, MaxLength: s.maxPassword},
			SessionTTL: s.sessionTTL, Now: now, Audit: st.audit,
		})
		deps.Grants = app.NewGrants(st.consents, st.clients, st.refresh, st.revocations, st.audit, s.maxAccessTTL, now)
		deps.Pages = httpapi.PageConfig{SecureCookies: strings.HasPrefix(s.issuer, "https://"), MinPassword: s.minPassword}
		deps.Metadata.ResponseTypes = authz.ResponseTypes()
		deps.Metadata.AuthorizationEndpoint = true
		deps.Metadata.CodeChallengeMethods = []string{"S256"}
	}
	handler, err := httpapi.NewHandler(deps)
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}

	bg, stop := context.WithCancel(context.Background())
	srv = &Server{
		handler:  handler,
		metadata: httpapi.NewMetadataHandler(deps),
		keys:     keys,
		stores:   st,
		fixtures: &fixtureLoader{stores: st, hasher: hasher, s: s},
		stop:     stop,
	}
	srv.goBackground(func() {
		keys.Run(bg, s.keyRefresh, func(err error) { s.log.Warn("reloading signing keys", zap.Error(err)) })
	})
	srv.goBackground(func() {
		every(bg, s.sweepInterval, func() {
			if err := st.Sweep(bg); err != nil {
				s.log.Warn("sweeping expired entries", zap.Error(err))
			}
		})
	})
	return srv, nil
}

// rateLimits are the request rate limits the settings ask for, nil if
// none.
func rateLimits(s settings, limiter httpapi.RateLimiter) *httpapi.RateLimits {
	if s.rateLimits.Disabled {
		return nil
	}
	return httpapi.NewRateLimits(httpapi.RateLimitConfig{
		Limiter:        limiter,
		Source:         s.rateLimits.Source.domain(),
		Public:         s.rateLimits.publicRateLimit(),
		Client:         s.rateLimits.Client.domain(),
		TrustedProxies: s.trustedProxies,
		Log:            s.log,
	})
}

func (srv *Server) goBackground(f func()) {
	srv.wg.Add(1)
	go func() { defer srv.wg.Done(); f() }()
}

// every calls f each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// Handler serves the OAuth endpoints (/token, /introspect, /revoke,
// /jwks.json, /authorize) and the pages (/login, /signup, /logout, /account),
// relative to where it is mounted.
func (srv *Server) Handler() http.Handler { return srv.handler }

// MetadataHandler serves the RFC 8414 metadata document.
func (srv *Server) MetadataHandler() http.Handler { return srv.metadata }

// Ready reports whether every storage backend answers.
func (srv *Server) Ready(ctx context.Context) error { return srv.stores.Ping(ctx) }

// Close stops background work, flushes the audit queue and closes the
// storage connections.
func (srv *Server) Close() error {
	srv.stop()
	srv.wg.Wait()
	srv.stores.Close()
	return nil
}

// openKeys opens the key set on the key store.
func openKeys(ctx context.Context, s settings, store jwtkeys.Store) (*jwtkeys.KeySet, error) {
	keys, err := jwtkeys.Open(ctx, store, jwtkeys.Options{
		Algorithm:    s.algorithm,
		Issuer:       s.issuer,
		MaxTokenTTL:  s.maxAccessTTL,
		MaxStaleness: s.keyStaleness(),
		Clock:        s.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	return keys, nil
}

// RotateKeys makes a new signing key the signer in the configured key store
// (the key file, or PostgreSQL) and returns its id. Running servers pick it
// up on their next key reload; tokens signed by the old key keep verifying
// until they expire.
func RotateKeys(ctx context.Context, opts ...Option) (string, error) {
	s, err := configure(opts)
	if err != nil {
		return "", err
	}
	if !s.sharedKeys() {
		return "", fmt.Errorf("authserver: keys live in memory only; set a data directory or PostgreSQL storage to rotate them")
	}
	st, err := openStores(ctx, s)
	if err != nil {
		return "", fmt.Errorf("authserver: %w", err)
	}
	defer st.Close()
	keys, err := openKeys(ctx, s, st.keys)
	if err != nil {
		return "", err
	}
	return keys.Rotate(ctx)
}

// Migrate applies pending PostgreSQL migrations and returns their names.
func Migrate(ctx context.Context, opts ...Option) ([]string, error) {
	s, err := configure(opts)
	if err != nil {
		return nil, err
	}
	if !s.storage.uses(Postgres) {
		return nil, fmt.Errorf("authserver: no data group is stored in PostgreSQL; nothing to migrate")
	}
	s.storage.Postgres.Migrate = false // applied below, reported to the caller
	st, err := openStores(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	defer st.Close()
	return st.pg.Migrate(ctx)
}

// LoadSummary says what LoadData or ReloadFixtures wrote: counts, and the
// ids of the clients added and changed.
type LoadSummary struct {
	Scopes, ClientsWritten, ClientsUnchanged, UsersWritten, UsersUnchanged int
	ScopesWritten                                                          int
	ClientsAdded, ClientsChanged                                           []string
}

// LoadData loads scopes, clients and users from fixture files into the
// configured storage, all of them or, if any file or record is bad, none.
// Running it twice changes nothing.
func LoadData(ctx context.Context, files []string, opts ...Option) (LoadSummary, error) {
	s, err := configure(opts)
	if err != nil {
		return LoadSummary{}, err
	}
	st, err := openStores(ctx, s)
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	defer st.Close()
	return loadFixtures(ctx, files, st, hashing.NewHasher(hashing.Argon2Params(s.argon2), s.hashConcurrency), s)
}

func loadFixtures(ctx context.Context, paths []string, st *stores, hasher *hashing.Hasher, s settings) (LoadSummary, error) {
	sch, err := fixtures.Schema()
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	set, err := fixtures.ReadFiles(sch, paths...)
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	sum, err := fixtures.Load(ctx, set, fixtures.Stores{Clients: st.clients, Users: st.users, Scopes: st.clients, Batch: st}, hasher, s.clock())
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	return LoadSummary(sum), nil
}
