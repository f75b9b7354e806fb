// Package authserver is an OAuth 2.0 authorization server as a library. New
// builds one from options with safe defaults (memory storage, a generated
// signing key); Handler serves its endpoints and pages, MetadataHandler its
// RFC 8414 document, to be mounted in any router:
//
//	srv, err := authserver.New(ctx, authserver.WithIssuer("https://id.example.com"))
//	r.Mount("/oauth", srv.Handler())
//	r.Mount("/api", srv.APIHandler())
//	r.Handle("/.well-known/oauth-authorization-server", srv.MetadataHandler())
//	r.Handle("/.well-known/openid-configuration", srv.OpenIDConfigurationHandler())
//
// Data lives in memory unless WithStores places it elsewhere: on stores of
// the embedder's own, or on PostgreSQL and Redis through the
// authserver/storage package, which alone links their drivers.
// cmd/authserver is built the same way.
package authserver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
)

// Server is a configured authorization server.
type Server struct {
	handler  http.Handler
	metadata http.Handler
	openID   http.Handler
	api      http.Handler
	keys     *jwtkeys.KeySet
	stores   Stores
	fixtures *fixtureLoader
	admin    *app.Admin
	tokens   *tokenAPI // the programmatic token API (tokens.go)

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// configure applies the options to the defaults; an option that refuses its
// value stops New with its error.
func configure(opts []Option) (settings, error) {
	s := defaults()
	for _, o := range opts {
		if o == nil {
			return s, fmt.Errorf("authserver: a nil Option")
		}
		if err := o(&s); err != nil {
			return s, fmt.Errorf("authserver: %w", err)
		}
	}
	if s.baseURL == "" {
		s.baseURL = s.Issuer + "/oauth"
	}
	// The maximum caps every lifetime, the default's included.
	s.AccessTTL = min(s.AccessTTL, s.MaxAccessTTL)
	return s, nil
}

// openCore checks the options and builds what New and Manage share: the
// settings, the stores (memory for every group the options leave out) and
// the core the use cases are made of.
func openCore(ctx context.Context, opts []Option) (settings, Stores, *core, error) {
	s, err := configure(opts)
	if err != nil {
		return settings{}, Stores{}, nil, err
	}
	st := s.withMemoryStores()
	c, err := newCore(ctx, s, st)
	return s, st, c, err
}

// New builds a server: its stores (memory for every group WithStores left
// out), fixtures, signing keys, use cases and HTTP handlers. Background work
// (key reloads, expiry sweeps) runs until Close.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	s, st, c, err := openCore(ctx, opts)
	if err != nil {
		return nil, err
	}
	if len(s.fixtures) > 0 {
		sum, err := c.fixtures.load(ctx, s.fixtures)
		if err != nil {
			return nil, err
		}
		s.log.Info("fixtures loaded", zap.Strings("files", s.fixtures), zap.Int("scopes", sum.Scopes),
			zap.Int("clients_written", sum.ClientsWritten), zap.Int("clients_unchanged", sum.ClientsUnchanged),
			zap.Int("users_written", sum.UsersWritten), zap.Int("users_unchanged", sum.UsersUnchanged))
		if len(sum.ClientsSkipped) > 0 {
			s.log.Warn("fixture clients that generate their secret were not loaded: no secrets directory (data_dir) to keep it in",
				zap.Strings("clients", sum.ClientsSkipped))
		}
	}
	keys, err := openKeys(ctx, s, st.Keys)
	if err != nil {
		return nil, err
	}
	h, err := newHandlers(s, st, c, keys)
	if err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	srv := &Server{handler: h.oauth, metadata: h.metadata, openID: h.openID, api: h.api, keys: keys, stores: st, fixtures: c.fixtures, admin: h.admin, tokens: h.tokens, stop: stop}
	srv.goBackground(func() {
		keys.Run(bg, s.KeyRefresh, func(err error) { s.log.Warn("reloading signing keys", zap.Error(err)) })
	})
	srv.goBackground(func() {
		every(bg, s.SweepInterval, func() {
			if err := st.sweep(bg); err != nil {
				s.log.Warn("sweeping expired entries", zap.Error(err))
			}
		})
	})
	return srv, nil
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
// /jwks.json, /authorize, and /register with WithRegistration), OpenID
// Connect's (/userinfo, /end_session) and the pages (/login, /signup,
// /logout, /account, and /developer with WithRegistration), relative to
// where it is mounted.
func (srv *Server) Handler() http.Handler { return srv.handler }

// APIHandler serves the accounts and sessions API (/accounts,
// /sessions) and the admin API (/admin/clients, /admin/users: see the
// README), relative to where it is mounted, /api in cmd/authserver. Its
// sessions are the pages' sessions.
func (srv *Server) APIHandler() http.Handler { return srv.api }

// MetadataHandler serves the RFC 8414 metadata document.
func (srv *Server) MetadataHandler() http.Handler { return srv.metadata }

// OpenIDConfigurationHandler serves the OpenID Connect discovery document
// (the same document, an OpenID Provider's), to be mounted at
// /.well-known/openid-configuration under the issuer; a 404 when the
// server offers no authorization code flow, and so no OpenID Connect.
func (srv *Server) OpenIDConfigurationHandler() http.Handler { return srv.openID }

// Ready reports whether every store that can tell (a Pinger) answers.
func (srv *Server) Ready(ctx context.Context) error { return srv.stores.ping(ctx) }

// Close stops background work. The stores are not closed: they are the
// embedder's, or the storage.Set's that opened them.
func (srv *Server) Close() error {
	srv.stop()
	srv.wg.Wait()
	return nil
}
