package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// documented is every operation of the document, as "METHOD /path".
func documented(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := libopenapi.NewDocument(OpenAPIDocument())
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

func TestOpenAPIDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := libopenapi.NewDocument(OpenAPIDocument())
	require.NoError(t, err)
	info := doc.GetSpecInfo()
	assert.Equal(t, "3.1.0", info.Version)
	_, err = doc.BuildV3Model()
	require.NoError(t, err, "every $ref resolves")

	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, problems := v.ValidateDocument()
	for _, p := range problems {
		t.Errorf("%s: %s", p.Message, p.Reason)
		for _, f := range p.SchemaValidationErrors {
			t.Errorf("  %s", f.Error())
		}
	}
	assert.True(t, ok, "valid against the OpenAPI 3.1 schema")
}

// The document and routes.go name the same endpoints: every route of the
// OAuth and API handlers is described (the pages, HTML, are not: they are
// left out by building the handler without them), and every described
// /oauth or /api operation is a route. So a new endpoint fails here until
// the document says what it takes and answers.
func TestOpenAPIDocumentNamesEveryRoute(t *testing.T) {
	ops := documented(t)
	oauth, err := NewHandler(Deps{Metadata: Metadata{BaseURL: "http://as.example/oauth"}, Registration: noRegistrar{}})
	require.NoError(t, err)
	api, err := NewAPIHandler(APIDeps{})
	require.NoError(t, err)

	served := map[string]bool{
		"GET /.well-known/oauth-authorization-server": true, // NewMetadataHandler
		"GET /openapi.json":                           true, // NewOpenAPIHandler
	}
	for prefix, h := range map[string]http.Handler{"/oauth": oauth, "/api": api} {
		require.NoError(t, chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			served[method+" "+prefix+route] = true
			return nil
		}))
	}
	var missing, extra []string
	for op := range served {
		if !ops[op] {
			missing = append(missing, op)
		}
	}
	for op := range ops {
		_, path, _ := strings.Cut(op, " ")
		if (strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/api/")) && !served[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "routes the document does not describe")
	assert.Empty(t, extra, "operations the document describes that no route serves")
}

// noRegistrar turns the registration endpoints on for the route walk,
// which calls none of them.
type noRegistrar struct{ Registrar }

func TestOpenAPIHandlerServesTheDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	NewOpenAPIHandler(Deps{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.JSONEq(t, string(OpenAPIDocument()), rec.Body.String())
}

// The registration body's schema, which the endpoint validates with, is
// the document's ClientMetadata word for word but for "$schema".
func TestRegistrationSchemaIsTheDocuments(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPIDocument(), &doc))
	raw, err := apiSchemaFS.ReadFile("schemas/registration.json")
	require.NoError(t, err)
	var s map[string]any
	require.NoError(t, json.Unmarshal(raw, &s))
	delete(s, "$schema")
	want, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(doc.Components.Schemas["ClientMetadata"]))
}
