package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/oauth2ref/authserver"
)

// An application mounts the server under /auth in its chi router and also
// issues, introspects and revokes tokens from Go, without HTTP: the same
// use cases, client authentication, limits and errors as the endpoints.
func Example_programmaticAPI() {
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

	client := authserver.ClientAuth{ID: "reporting", Secret: secret}
	tok, err := srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: client})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.TokenType, tok.Scope, tok.ExpiresIn)

	// The token is the server's own: its HTTP introspection endpoint, under
	// /auth, knows it.
	fmt.Println("over HTTP, active:", introspectOverHTTP(web.URL+"/auth/introspect", "reporting", secret, tok.AccessToken))

	in, err := srv.Introspect(ctx, authserver.IntrospectRequest{Client: client, Token: tok.AccessToken})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("from Go, active:", in.Active, in.Subject)

	if err := srv.Revoke(ctx, authserver.RevokeRequest{Client: client, Token: tok.AccessToken}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("revoked, over HTTP, active:", introspectOverHTTP(web.URL+"/auth/introspect", "reporting", secret, tok.AccessToken))

	// Errors carry the RFC 6749 code.
	_, err = srv.ClientCredentialsToken(ctx, authserver.ClientCredentialsRequest{Client: client, Scope: "reports:write"})
	var e *authserver.Error
	if errors.Is(err, authserver.ErrInvalidScope) && errors.As(err, &e) {
		fmt.Println(e.Code)
	}
	// Output:
	// Bearer reports:read 5m0s
	// over HTTP, active: true
	// from Go, active: true reporting
	// revoked, over HTTP, active: false
	// invalid_scope
}

// introspectOverHTTP asks the RFC 7662 endpoint about token, as a client
// would.
func introspectOverHTTP(endpoint, id, secret, token string) bool {
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false
	}
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct{ Active bool }
	return json.NewDecoder(resp.Body).Decode(&body) == nil && body.Active
}
