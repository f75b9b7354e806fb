// Package authserver is an OAuth 2.0 authorization server as a library. New
// builds one from options with safe defaults (memory storage, a generated
// signing key); Handler serves its endpoints and MetadataHandler its RFC 8414
// document, to be mounted in any router:
//
//	srv, err := authserver.New(ctx, authserver.WithIssuer("https://id.example.com"))
//	r.Mount("/oauth", srv.Handler())
//	r.Handle("/.well-known/oauth-authorization-server", srv.MetadataHandler())
//
// cmd/authserver is built the same way.
package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/oauth2ref/authserver/internal/adapters/fixtures"
	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"go.uber.org/zap"
)

// Server is a configured authorization server.
type Server struct {
	handler  http.Handler
	metadata http.Handler
	keys     *jwtkeys.KeySet
	store    *memory.Store

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New builds a server. Background work (key reloads, expiry sweeps) runs
// until Close.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	s := defaults()
	for _, o := range opts {
		if err := o(&s); err != nil {
			return nil, fmt.Errorf("authserver: %w", err)
		}
	}
	if s.baseURL == "" {
		s.baseURL = s.issuer + "/oauth"
	}
	// The maximum caps every lifetime, the default's included.
	s.accessTTL = min(s.accessTTL, s.maxAccessTTL)
	now := s.clock

	store := memory.New(now, memory.LimiterConfig{MaxFailures: s.loginFailures, Window: s.loginWindow})
	hasher := hashing.NewHasher(hashing.Argon2Params(s.argon2), s.hashConcurrency)

	if len(s.fixtures) > 0 {
		if err := loadFixtures(ctx, s.fixtures, store, hasher, s); err != nil {
			return nil, err
		}
	}

	keys, err := openKeys(ctx, s, store)
	if err != nil {
		return nil, err
	}

	// User passwords are verified in full every time; client secrets go
	// through the cache (see hashing.CachedVerifier for why).
	clientSecrets := hashing.NewCachedVerifier(hasher, s.secretCacheSize)
	decoy, err := hasher.HashPassword(ctx, "decoy password for unknown users")
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}

	minter := app.NewMinter(keys, store, app.TokenPolicy{
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
			grants = append(grants, app.NewAuthorizationCodeGrant(store, store, store, minter, now))
			browser = true
		case GrantPassword:
			grants = append(grants, app.NewPasswordGrant(store, hasher, store.Limiter(), minter, decoy))
		case GrantClientCredentials:
			grants = append(grants, app.NewClientCredentialsGrant(minter))
		case GrantRefreshToken:
			grants = append(grants, app.NewRefreshGrant(store, store, minter, now))
		case GrantImplicit:
			browser, implicit = true, true
		}
	}
	tokens := app.NewTokenEndpoint(grants...)

	deps := httpapi.Deps{
		Log:          s.log,
		Clients:      app.NewClientAuthenticator(store, clientSecrets),
		Tokens:       tokens,
		Introspector: app.NewIntrospector(jwtkeys.NewVerifyCache(keys, s.verifyCacheSize, now), store, store, now),
		Revoker:      app.NewRevoker(keys, store, store, now),
		JWKS:         keys.JWKS,
		Scopes:       store,
		MaxBodyBytes: s.maxBodyBytes,
		Metadata: httpapi.Metadata{
			Issuer:        s.issuer,
			BaseURL:       s.baseURL,
			GrantTypes:    tokens.GrantTypes(),
			ResponseTypes: []string{},
		},
	}
	if browser {
		authz := app.NewAuthorizer(store, store, store, minter, app.AuthorizationPolicy{
			Issuer: s.issuer, CodeTTL: s.codeTTL, Implicit: implicit,
		}, now)
		deps.Authorizer = authz
		deps.Accounts = app.NewAccounts(app.AccountsDeps{
			Users: store, Passwords: hasher, Hasher: hasher, Limiter: store.Limiter(), Sessions: store,
			DecoyHash: decoy, Policy: app.PasswordPolicy{MinLength: s.minPassword, MaxLength: s.maxPassword},
			SessionTTL: s.sessionTTL, Now: now,
		})
		deps.Grants = app.NewGrants(store, store, store, store, s.maxAccessTTL, now)
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
	srv := &Server{
		handler:  handler,
		metadata: httpapi.NewMetadataHandler(deps),
		keys:     keys,
		store:    store,
		stop:     stop,
	}
	srv.goBackground(func() {
		keys.Run(bg, s.keyRefresh, func(err error) { s.log.Warn("reloading signing keys", zap.Error(err)) })
	})
	srv.goBackground(func() { store.RunSweeper(bg, s.sweepInterval) })
	return srv, nil
}

func (srv *Server) goBackground(f func()) {
	srv.wg.Add(1)
	go func() { defer srv.wg.Done(); f() }()
}

// Handler serves the OAuth endpoints (/token, /introspect, /revoke,
// /jwks.json, /authorize) and the pages (/login, /signup, /logout, /account),
// relative to where it is mounted.
func (srv *Server) Handler() http.Handler { return srv.handler }

// MetadataHandler serves the RFC 8414 metadata document.
func (srv *Server) MetadataHandler() http.Handler { return srv.metadata }

// Ready reports whether the server's backends answer.
func (srv *Server) Ready(ctx context.Context) error { return srv.store.Ping(ctx) }

// Close stops background work.
func (srv *Server) Close() error {
	srv.stop()
	srv.wg.Wait()
	return nil
}

// openKeys opens the key set on the key file if one is set, else on store.
func openKeys(ctx context.Context, s settings, store jwtkeys.Store) (*jwtkeys.KeySet, error) {
	if s.keyFile != "" {
		store = jwtkeys.NewFileStore(s.keyFile)
	}
	keys, err := jwtkeys.Open(ctx, store, jwtkeys.Options{
		Algorithm:   s.algorithm,
		Issuer:      s.issuer,
		MaxTokenTTL: s.maxAccessTTL,
		Clock:       s.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	return keys, nil
}

// RotateKeys makes a new signing key the signer in the configured key store
// and returns its id. Running servers pick it up on their next key reload;
// tokens signed by the old key keep verifying until they expire.
func RotateKeys(ctx context.Context, opts ...Option) (string, error) {
	s := defaults()
	for _, o := range opts {
		if err := o(&s); err != nil {
			return "", fmt.Errorf("authserver: %w", err)
		}
	}
	if s.keyFile == "" {
		return "", errors.New("authserver: keys live in memory only; set a key file to rotate them")
	}
	keys, err := openKeys(ctx, s, nil)
	if err != nil {
		return "", err
	}
	return keys.Rotate(ctx)
}

func loadFixtures(ctx context.Context, paths []string, store *memory.Store, hasher *hashing.Hasher, s settings) error {
	sch, err := fixtures.Schema()
	if err != nil {
		return fmt.Errorf("authserver: %w", err)
	}
	set, err := fixtures.ReadFiles(sch, paths...)
	if err != nil {
		return fmt.Errorf("authserver: %w", err)
	}
	sum, err := fixtures.Load(ctx, set, fixtures.Stores{Clients: store, Users: store, Scopes: store}, hasher, s.clock())
	if err != nil {
		return fmt.Errorf("authserver: %w", err)
	}
	s.log.Info("fixtures loaded", zap.Strings("files", paths), zap.Int("scopes", sum.Scopes),
		zap.Int("clients", sum.ClientsWritten+sum.ClientsUnchanged), zap.Int("users", sum.UsersWritten+sum.UsersUnchanged))
	return nil
}
