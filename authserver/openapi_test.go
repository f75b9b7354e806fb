package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

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
