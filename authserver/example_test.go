package authserver_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"

	"github.com/go-chi/chi/v5"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauth2ref/authserver"
)

// appClients is a client store an application writes itself: here its
// clients are fixed in code, as they might come from its own database.
// It implements authserver.ClientStore: FindClient, SaveClient, SaveScope
// and ListScopes.
type appClients struct {
	mu      sync.RWMutex
	clients map[string]authserver.Client
	scopes  []authserver.ScopeInfo
}

func (s *appClients) FindClient(_ context.Context, id string) (authserver.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return authserver.Client{}, authserver.ErrNotFound
	}
	return c, nil
}

func (s *appClients) SaveClient(_ context.Context, c authserver.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
	return nil
}

func (s *appClients) SaveScope(_ context.Context, sc authserver.ScopeInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = append(s.scopes, sc)
	return nil
}

func (s *appClients) ListScopes(context.Context) ([]authserver.ScopeInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]authserver.ScopeInfo(nil), s.scopes...), nil
}

// An application embeds the server under /auth in its own router, with its
// clients in a store of its own; every other data group stays in memory.
func Example_ownStore() {
	ctx := context.Background()
	secret, hash := authserver.NewClientSecret()
	clients := &appClients{clients: map[string]authserver.Client{
		"reporting": {
			ID: "reporting", Name: "Nightly reports", Type: authserver.Confidential, SecretHash: hash,
			AuthMethods: []authserver.AuthMethod{authserver.ClientSecretBasic},
			GrantTypes:  []authserver.Grant{authserver.GrantClientCredentials},
			Scopes:      authserver.NewScope("reports:read"), DefaultScopes: authserver.NewScope("reports:read"),
		},
	}}

	r := chi.NewRouter()
	web := httptest.NewServer(r)
	defer web.Close()
	srv, err := authserver.New(ctx,
		authserver.WithIssuer(web.URL),
		authserver.WithBaseURL(web.URL+"/auth"),
		authserver.WithStores(authserver.Stores{Clients: clients}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = srv.Close() }()
	r.Mount("/auth", srv.Handler())

	conf := clientcredentials.Config{ClientID: "reporting", ClientSecret: secret, TokenURL: web.URL + "/auth/token"}
	tok, err := conf.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.TokenType, tok.Extra("scope"))
	// Output: Bearer reports:read
}
