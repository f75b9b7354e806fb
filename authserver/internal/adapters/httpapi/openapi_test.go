package httpapi

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
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
	oauth, err := NewHandler(Deps{Metadata: Metadata{BaseURL: "http://as.example/oauth"}})
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

// requestSchemas names the component of the document that describes each
// request body schema of schemas/, which the API validates against.
var requestSchemas = map[string]string{
	"credentials.json":       "Credentials",
	"password_change.json":   "PasswordChange",
	"account_close.json":     "AccountClose",
	"session_patch.json":     "SessionPatch",
	"admin_client.json":      "AdminClientRequest",
	"admin_user_create.json": "AdminUserCreate",
	"admin_user_update.json": "AdminUserUpdate",
}

// The document's request body schemas are the ones the API validates
// with, word for word but for "$schema" (the document's dialect is 2020-12
// already): a change to one that the other misses fails here, and so does
// a new schema file the document does not describe.
func TestOpenAPIRequestSchemasAreTheAPIs(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(OpenAPIDocument(), &doc))
	files, err := fs.Glob(apiSchemaFS, "schemas/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := path.Base(f)
		component, ok := requestSchemas[name]
		if !assert.True(t, ok, "%s: no component of the document is named for it in requestSchemas", name) {
			continue
		}
		raw, err := apiSchemaFS.ReadFile(f)
		require.NoError(t, err)
		var s map[string]any
		require.NoError(t, json.Unmarshal(raw, &s))
		assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", s["$schema"], name)
		delete(s, "$schema")
		want, err := json.Marshal(s)
		require.NoError(t, err)
		got, ok := doc.Components.Schemas[component]
		if assert.True(t, ok, "the document has no schema %s", component) {
			assert.JSONEq(t, string(want), string(got), "%s and #/components/schemas/%s differ", name, component)
		}
	}
}

func TestOpenAPIHandlerServesTheDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	NewOpenAPIHandler(Deps{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.JSONEq(t, string(OpenAPIDocument()), rec.Body.String())
}
