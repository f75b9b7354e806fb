package httpapi

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	"registration.json":      "ClientMetadata",
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
