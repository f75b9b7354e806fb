package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every JSON endpoint,
// at the paths cmd/authserver mounts them. It is written by hand, and
// tests hold it to the code: openapi_test.go checks that it is valid
// OpenAPI 3.1 and that its request schemas are schemas/ word for word; the
// authserver package's test that it names every route of a server with
// every feature on; and the e2e suite validates the real traffic of its
// tests against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the document (a copy).
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// NewOpenAPIHandler serves the document, to be mounted at /openapi.json:
// public, like the metadata, and on the same budget.
func NewOpenAPIHandler(d Deps) http.Handler {
	return d.RateLimits.bySource(publicBudget, tooManyRequests)(publicCORS(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPIDocument)
	})))
}
