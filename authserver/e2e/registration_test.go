package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registration sends a JSON request to a registration endpoint (an
// absolute URL) with a bearer token, if any.
func registration(t *testing.T, method, target, token string, body any) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		raw, err = json.Marshal(b)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(raw))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// TestRegistrationOnTheBinary: the test configuration opens registration,
// as development does. A client registers, is read, replaced and deleted
// with its registration access token; a client registered with
// admin-cli's initial access token gets a token the resource server takes
// until its registration is deleted; a flood from one address is refused
// past its budget. Every exchange is held to the OpenAPI document.
func TestRegistrationOnTheBinary(t *testing.T) {
	s := startSystemWith(t, map[string]string{
		"AUTHSERVER_TOKENS_MAX_ACCESS_TTL":            "1h",
		"AUTHSERVER_REGISTRATION_PER_SOURCE_PER_HOUR": "10",
	})
	md := get(t, s.auth.url("/.well-known/oauth-authorization-server"))
	endpoint, _ := md.body["registration_endpoint"].(string)
	require.Equal(t, s.auth.url("/oauth/register"), endpoint, "advertised")
	posts := 0
	register := func(token string, body any) response {
		posts++
		return registration(t, http.MethodPost, endpoint, token, body)
	}

	r := register("", map[string]any{"client_name": "CLI", "redirect_uris": []string{"http://127.0.0.1:7777/cb"}, "token_endpoint_auth_method": "none"})
	require.Equal(t, 201, r.status, r.raw)
	manage, regToken := r.body["registration_client_uri"].(string), r.body["registration_access_token"].(string)
	got := registration(t, http.MethodGet, manage, regToken, nil)
	require.Equal(t, 200, got.status, got.raw)
	assert.Equal(t, "CLI", got.body["client_name"])
	upd := registration(t, http.MethodPut, manage, regToken, map[string]any{
		"client_id": r.body["client_id"], "client_name": "CLI 2", "redirect_uris": []string{"http://127.0.0.1:7777/cb"}, "token_endpoint_auth_method": "none",
	})
	require.Equal(t, 200, upd.status, upd.raw)
	assert.Equal(t, "CLI 2", upd.body["client_name"])
	wrong := registration(t, http.MethodGet, manage, "not-its-token", nil)
	require.Equal(t, 401, wrong.status, wrong.raw)
	assert.Equal(t, "invalid_token", wrong.body["error"])

	bad := register("", map[string]any{"redirect_uris": []string{"http://app.example/cb"}})
	require.Equal(t, 400, bad.status, bad.raw)
	assert.Equal(t, "invalid_redirect_uri", bad.body["error"])
	big := register("", `{"redirect_uris":["https://a.example/cb"],"software_statement":"`+strings.Repeat("x", 40<<10)+`"}`)
	assert.Equal(t, 413, big.status, big.raw)

	// admin-cli's token with the register scope is an initial access token.
	secret, err := os.ReadFile(filepath.Join(envOf(s.auth, "AUTHSERVER_DATA_DIR"), "admin-cli.secret"))
	require.NoError(t, err)
	iat := postForm(t, s.auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}, "scope": {"register"}}, "admin-cli", strings.TrimSpace(string(secret)))
	require.Equal(t, 200, iat.status, iat.raw)
	job := register(iat.body["access_token"].(string), map[string]any{"client_name": "Job", "grant_types": []string{"client_credentials"}, "scope": "current_time"})
	require.Equal(t, 201, job.status, job.raw)
	tok := postForm(t, s.auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, job.body["client_id"].(string), job.body["client_secret"].(string))
	require.Equal(t, 200, tok.status, tok.raw)
	access := tok.body["access_token"].(string)
	require.Equal(t, 200, resource(t, s.rs, access))

	del := registration(t, http.MethodDelete, job.body["registration_client_uri"].(string), job.body["registration_access_token"].(string), nil)
	require.Equal(t, 204, del.status, del.raw)
	assert.Equal(t, 401, resource(t, s.rs, access), "the deleted client's token is dead at the resource server")
	assert.Equal(t, 204, registration(t, http.MethodDelete, manage, regToken, nil).status)
	assert.Equal(t, 401, registration(t, http.MethodGet, manage, regToken, nil).status, "gone")

	// The rest of this address's budget of 10, then 429s.
	for posts < 10 {
		require.Equal(t, 201, register("", map[string]any{"redirect_uris": []string{"https://a.example/cb"}}).status)
	}
	limited := register("", map[string]any{"redirect_uris": []string{"https://a.example/cb"}})
	require.Equal(t, 429, limited.status, limited.raw)
	assert.NotEmpty(t, limited.header.Get("Retry-After"))
	assert.Contains(t, strings.Join(limited.header.Values("Ratelimit-Policy"), ","), `"register";q=10;w=3600`)
}
