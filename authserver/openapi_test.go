package authserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
)

func TestOpenAPIHandler(t *testing.T) {
	ts := start(t)
	rec := httptest.NewRecorder()
	ts.srv.OpenAPIHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, string(authserver.OpenAPIDocument()), rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get("RateLimit-Policy"), "on the public budget")
}

// documentedOperations is every operation of the OpenAPI document, as
// "METHOD /path".
func documentedOperations(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := libopenapi.NewDocument(authserver.OpenAPIDocument())
	require.NoError(t, err)
	m, err := doc.BuildV3Model()
	require.NoError(t, err)
	ops := map[string]bool{}
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return ops
}

// pageRoutes are the routes that answer HTML for people (or static files
// for those pages), not JSON: the document leaves them out on purpose.
// Each must still be a route, so this list cannot outlive one.
var pageRoutes = []string{
	"GET /oauth/authorize", "POST /oauth/authorize",
	"GET /oauth/login", "POST /oauth/login",
	"GET /oauth/signup", "POST /oauth/signup",
	"GET /oauth/logout", "POST /oauth/logout",
	"GET /oauth/account",
	"POST /oauth/account/revoke", "POST /oauth/account/sessions/end", "POST /oauth/account/delete",
	"GET /oauth/end_session", "POST /oauth/end_session", "POST /oauth/end_session/confirm",
	"GET /oauth/developer", "POST /oauth/developer/clients", "POST /oauth/developer/clients/delete",
	"GET /oauth/static/*",
}

// The document and the routes of a server with every feature on (every
// grant, so the pages and OpenID Connect; the admin API; registration and
// the developer pages; trusted proxies)
// name the same endpoints, at the prefixes cmd/authserver mounts them:
// every route but the pages is described, and every described /oauth or
// /api operation is a route. So a new JSON endpoint fails here until the
// document says what it takes and answers.
func TestOpenAPIDocumentNamesEveryRoute(t *testing.T) {
	ops := documentedOperations(t)
	registration := authserver.DefaultRegistration()
	registration.Mode, registration.DeveloperPages = authserver.RegistrationOpen, true
	ts := start(t, authserver.WithGrants(authserver.AllGrants()...), authserver.WithTrustedProxies("10.0.0.0/8"),
		authserver.WithRegistration(registration))

	// Beside Handler and APIHandler, cmd/authserver mounts these at the
	// root; each answers JSON on a fully configured server.
	root := map[string]http.Handler{
		"GET /.well-known/oauth-authorization-server": ts.srv.MetadataHandler(),
		"GET /.well-known/openid-configuration":       ts.srv.OpenIDConfigurationHandler(),
		"GET /openapi.json":                           ts.srv.OpenAPIHandler(),
	}
	served := map[string]bool{}
	for op, h := range root {
		method, path, _ := strings.Cut(op, " ")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		assert.Equal(t, http.StatusOK, rec.Code, op)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), op)
		served[op] = true
	}
	for prefix, h := range map[string]http.Handler{"/oauth": ts.srv.Handler(), "/api": ts.srv.APIHandler()} {
		routes, ok := h.(chi.Routes)
		require.True(t, ok, "%s: the handler is no chi router to walk; walk what it wraps", prefix)
		require.NoError(t, chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			served[method+" "+prefix+route] = true
			return nil
		}))
	}

	pages := map[string]bool{}
	for _, op := range pageRoutes {
		pages[op] = true
		assert.True(t, served[op], "%s is listed as a page but no route serves it", op)
	}
	var missing, extra []string
	for op := range served {
		if !ops[op] && !pages[op] {
			missing = append(missing, op)
		}
	}
	for op := range ops {
		_, path, _ := strings.Cut(op, " ")
		if (strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/api/") || root[op] != nil) && !served[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "routes the document does not describe")
	assert.Empty(t, extra, "operations the document describes that no route serves")
	assert.Contains(t, served, "GET /api/admin/users/{id}", "the admin API is among the routes walked")
	assert.Contains(t, served, "POST /oauth/userinfo", "and so is OpenID Connect's")
	assert.Contains(t, served, "PUT /oauth/register/{client_id}", "and registration's")
}

// A server without the browser flows serves no UserInfo and no OpenID
// discovery: the document describes the routes of the fully configured
// server, and the 404 the discovery document answers then.
func TestOpenAPIDocumentDescribesTheDiscoveryRefusal(t *testing.T) {
	srv, err := authserver.New(context.Background(), authserver.WithGrants(authserver.GrantClientCredentials))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	rec := httptest.NewRecorder()
	srv.OpenIDConfigurationHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Contains(t, documentedResponses(t, "/.well-known/openid-configuration", "get"), "404")
}

// documentedResponses are the statuses the document lists for an
// operation.
func documentedResponses(t *testing.T, path, method string) []string {
	t.Helper()
	doc, err := libopenapi.NewDocument(authserver.OpenAPIDocument())
	require.NoError(t, err)
	m, err := doc.BuildV3Model()
	require.NoError(t, err)
	item, ok := m.Model.Paths.PathItems.Get(path)
	require.True(t, ok, path)
	op, ok := item.GetOperations().Get(method)
	require.True(t, ok, method+" "+path)
	var codes []string
	for code := range op.Responses.Codes.KeysFromOldest() {
		codes = append(codes, code)
	}
	return codes
}
