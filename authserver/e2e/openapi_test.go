package e2e

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
)

// The OpenAPI contract, held against the real traffic of this suite.
// TestMain puts contractTransport in front of http.DefaultTransport, which
// the tests' own client, the pages' browsers and golang.org/x/oauth2 use;
// every exchange with an authserver the tests started (launch registers
// each) is checked against the document /openapi.json serves:
//
//   - a documented operation: the status must be one the document lists,
//     the response body must match its schema, and for a 2xx answer the
//     request must match too (a refused request need not: the suite sends
//     malformed ones on purpose, and what it must get back is documented);
//   - an undocumented path or method: allowed only as the router's JSON
//     404 or 405, or as an answer that is not JSON (the HTML pages, their
//     redirects, /metrics);
//   - HEAD is GET without a body, and is not checked.
//
// A violation fails the run (TestMain), naming the request and the
// mismatch. Flood clients with transports of their own (abusekit) are not
// checked: their answers are counted, not read. Adding an endpoint to the
// document is all it takes to have its traffic checked.

// contract is the suite's checker.
var contract = &contractCheck{}

type contractCheck struct {
	once     sync.Once
	initErr  error
	v        validator.Validator
	model    *v3.Document
	mu       sync.Mutex     // the validator and what follows
	hosts    map[string]int // watched authserver addresses, by how many processes serve them
	checked  int
	seen     map[string]int // "GET /api/sessions/{id} 200" -> how many
	failures []string
}

// watch adds an authserver's address to those checked until the test
// ends: its port may serve another service in a later test.
func (c *contractCheck) watch(t *testing.T, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hosts == nil {
		c.hosts = map[string]int{}
	}
	c.hosts[addr]++
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.hosts[addr]--; c.hosts[addr] <= 0 {
			delete(c.hosts, addr)
		}
	})
}

func (c *contractCheck) watches(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[host] > 0
}

func (c *contractCheck) init() error {
	c.once.Do(func() {
		doc, err := libopenapi.NewDocument(httpapi.OpenAPIDocument())
		if err != nil {
			c.initErr = err
			return
		}
		m, err := doc.BuildV3Model()
		if err != nil {
			c.initErr = err
			return
		}
		v, errs := validator.NewValidator(doc, config.WithURLEncodedBodyValidation())
		if len(errs) > 0 {
			c.initErr = fmt.Errorf("the OpenAPI document: %v", errs)
			return
		}
		c.v, c.model = v, &m.Model
	})
	return c.initErr
}

// check holds one exchange to the document and returns what does not
// match, nothing if it does; op is the documented operation and status
// it exercised ("GET /api/sessions/{id} 200"), empty if none.
func (c *contractCheck) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) (problems []string, op string) {
	if req.Method == http.MethodHead {
		return nil, ""
	}
	if err := c.init(); err != nil {
		return []string{err.Error()}, ""
	}
	// Each validation reads the bodies: each gets its own copy.
	withBodies := func() (*http.Request, *http.Response) {
		q := req.Clone(req.Context())
		q.Body = io.NopCloser(bytes.NewReader(reqBody))
		r := *resp
		r.Body = io.NopCloser(bytes.NewReader(respBody))
		r.Request = q
		return q, &r
	}
	if serverRefusal(resp) {
		return nil, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	isJSON := jsonBody(resp.Header)
	_, found, template := paths.FindPath(req, c.model, config.NewValidationOptions())
	if len(found) > 0 {
		// The router's own answers for what is not there, and what is not
		// a JSON endpoint at all, are outside the document.
		e := found[0]
		missingPath := e.ValidationSubType == helpers.ValidationMissing && (resp.StatusCode == http.StatusNotFound || !isJSON)
		missingMethod := e.ValidationSubType == helpers.ValidationMissingOperation &&
			(resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotFound || !isJSON)
		if missingPath || missingMethod {
			return nil, ""
		}
		return []string{"undocumented: " + e.Message}, ""
	}
	q, r := withBodies()
	_, errs := c.v.ValidateHttpResponse(q, r)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		q, _ := withBodies()
		_, reqErrs := c.v.ValidateHttpRequest(q)
		errs = append(errs, reqErrs...)
	}
	for _, e := range errs {
		p := e.Message + ": " + e.Reason
		for _, f := range e.SchemaValidationErrors {
			p += "; " + f.Error()
		}
		problems = append(problems, p)
	}
	return problems, fmt.Sprintf("%s %s %d", req.Method, template, resp.StatusCode)
}

// record checks an exchange and keeps any violation for the report.
func (c *contractCheck) record(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	problems, op := c.check(req, reqBody, resp, respBody)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	if op != "" {
		c.seen[op]++
	}
	if len(problems) == 0 {
		return
	}
	body := string(respBody)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	c.failures = append(c.failures, fmt.Sprintf("%s %s -> %d %s\n    %s", req.Method, req.URL.Path, resp.StatusCode, body,
		strings.Join(problems, "\n    ")))
}

// report is the summary TestMain prints, and whether the run passes.
func (c *contractCheck) report(verbose bool) (string, bool) {
	seen := c.seenOperations()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checked == 0 {
		return "", true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "openapi: %d exchanges with the authserver checked against /openapi.json, %d operation and status pairs\n", c.checked, len(seen))
	if verbose {
		for _, op := range seen {
			fmt.Fprintf(&b, "  %s\n", op)
		}
	}
	if len(c.failures) == 0 {
		return b.String(), true
	}
	fmt.Fprintf(&b, "openapi: FAIL: %d exchanges do not match the document:\n", len(c.failures))
	for _, f := range c.failures {
		b.WriteString("  " + f + "\n")
	}
	return b.String(), false
}

func (c *contractCheck) failureCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.failures)
}

// serverRefusal reports whether resp is net/http's own plain-text refusal,
// sent before any handler runs: a malformed request, plain HTTP to a TLS
// port (400), headers too large (431). No endpoint answers it, so no
// operation describes it.
func serverRefusal(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "text/plain" && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge)
}

func jsonBody(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// contractTransport sends requests with base and has the contract check
// every exchange with a watched authserver.
type contractTransport struct{ base http.RoundTripper }

func (t contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !contract.watches(req.URL.Host) {
		return t.base.RoundTrip(req)
	}
	var reqBody []byte
	out := req
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		reqBody, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		out = req.Clone(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, nil // the reader of the body sees the cut it would have seen: none here, it was read
	}
	contract.record(req, reqBody, resp, respBody)
	return resp, nil
}

// installContract puts the check in front of http.DefaultTransport.
func installContract() {
	contract.seen = map[string]int{}
	http.DefaultTransport = contractTransport{base: http.DefaultTransport}
}

// The check itself: the document is what the server serves, traffic of
// every kind of answer passes, and an exchange that the document does not
// describe is caught.
func TestOpenAPIContract(t *testing.T) {
	ln := listen(t)
	auth := startOn(t, "authserver", ln, authEnv(t, ln.Addr().String(), t.TempDir()))
	before := contract.failureCount()

	served := get(t, auth.url("/openapi.json"))
	require.Equal(t, 200, served.status)
	assert.JSONEq(t, string(httpapi.OpenAPIDocument()), served.raw, "the document served is the one checked against")

	// A sample of each envelope: success, the RFC 6749 errors, the API's.
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/oauth-authorization-server", "/oauth/jwks.json"} {
		assert.Equal(t, 200, get(t, auth.url(p)).status, p)
	}
	assert.Equal(t, 200, postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, serviceSecret).status)
	assert.Equal(t, 401, postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"client_credentials"}}, serviceClient, "wrong").status)
	assert.Equal(t, 400, postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"nope"}}, serviceClient, serviceSecret).status)
	assert.Equal(t, 200, postForm(t, auth.url("/oauth/introspect"), url.Values{"token": {"x"}}, "resourceserver", "resourceserver-secret").status)
	assert.Equal(t, 200, postForm(t, auth.url("/oauth/revoke"), url.Values{"token": {"x"}}, serviceClient, serviceSecret).status)
	assert.Equal(t, 401, apiCall(t, auth, http.MethodGet, "/sessions/x", "", nil).status)
	assert.Equal(t, 400, apiCall(t, auth, http.MethodPost, "/accounts", "", map[string]string{"name": "x"}).status)
	// Every operation of the accounts API once, and its envelopes.
	id, session := newAccount(t, auth, "olga", "olga-password-1")
	assert.Equal(t, 409, apiCall(t, auth, http.MethodPost, "/accounts", "", map[string]string{"name": "olga", "password": "olga-password-1"}).status)
	notJSON, err := http.NewRequest(http.MethodPost, auth.url("/api/accounts"), strings.NewReader("name=x"))
	require.NoError(t, err)
	notJSON.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, 415, send(t, notJSON).status)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/accounts/"+id, session, nil).status)
	assert.Equal(t, 403, apiCall(t, auth, http.MethodGet, "/accounts/someone-else", session, nil).status)
	list := apiCall(t, auth, http.MethodGet, "/accounts/"+id+"/sessions", session, nil)
	require.Equal(t, 200, list.status, list.raw)
	sid := list.body["results"].([]any)[0].(map[string]any)["id"].(string)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/sessions/"+sid, session, nil).status)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodPatch, "/sessions/"+sid, session, map[string]string{"expires_at": "2099-01-01T00:00:00Z"}).status)
	assert.Equal(t, 404, apiCall(t, auth, http.MethodGet, "/sessions/no-such-session", session, nil).status)
	other := apiLogin(t, auth, "olga", "olga-password-1")
	assert.Equal(t, 204, apiCall(t, auth, http.MethodDelete, "/sessions/"+sid, other, nil).status)
	assert.Equal(t, 204, apiCall(t, auth, http.MethodDelete, "/accounts/"+id+"/sessions", other, nil).status)
	last := apiLogin(t, auth, "olga", "olga-password-1")
	assert.Equal(t, 403, apiCall(t, auth, http.MethodDelete, "/accounts/"+id, last, map[string]string{"password": "wrong-password"}).status)
	assert.Equal(t, 204, apiCall(t, auth, http.MethodDelete, "/accounts/"+id, last, map[string]string{"password": "olga-password-1"}).status)

	// Every operation of the admin API once, with its refusals.
	admin := adminToken(t, auth)
	plain := clientToken(t, auth, serviceClient, serviceSecret).body["access_token"].(string)
	assert.Equal(t, 401, apiCall(t, auth, http.MethodGet, "/admin/clients", "", nil).status)
	assert.Equal(t, 401, apiCall(t, auth, http.MethodGet, "/admin/users", "not.a.token", nil).status)
	assert.Equal(t, 403, apiCall(t, auth, http.MethodGet, "/admin/users", plain, nil).status)
	assert.Equal(t, 400, apiCall(t, auth, http.MethodGet, "/admin/clients?limit=0", admin, nil).status)
	page := apiCall(t, auth, http.MethodGet, "/admin/clients?limit=2", admin, nil)
	require.Equal(t, 200, page.status, page.raw)
	next, _ := page.body["meta"].(map[string]any)["next_cursor"].(string)
	require.NotEmpty(t, next, "the fixtures hold more than two clients")
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/admin/clients?limit=2&cursor="+url.QueryEscape(next), admin, nil).status)
	client := jsonObj{"id": "contract", "name": "Contract", "type": "confidential",
		"grant_types": []string{"password"}, "scopes": []string{"openid", "profile", "email"}}
	made := apiCall(t, auth, http.MethodPost, "/admin/clients", admin, client)
	require.Equal(t, 201, made.status, made.raw)
	secret := made.body["result"].(map[string]any)["client_secret"].(string)
	assert.Equal(t, 409, apiCall(t, auth, http.MethodPost, "/admin/clients", admin, client).status)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/admin/clients/contract", admin, nil).status)
	assert.Equal(t, 404, apiCall(t, auth, http.MethodGet, "/admin/clients/no-such-client", admin, nil).status)
	client["name"] = "Contract, renamed"
	assert.Equal(t, 200, apiCall(t, auth, http.MethodPut, "/admin/clients/contract", admin, client).status)
	delete(client, "id")
	assert.Equal(t, 409, apiCall(t, auth, http.MethodPut, "/admin/clients/"+serviceClient, admin, client).status, "a fixture's client")
	assert.Equal(t, 409, apiCall(t, auth, http.MethodDelete, "/admin/clients/"+serviceClient, admin, nil).status)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/admin/users?limit=1", admin, nil).status)
	user := apiCall(t, auth, http.MethodPost, "/admin/users", admin, jsonObj{"name": "petra", "password": "petra-password-1",
		"display_name": "Petra", "email": "petra@example.com", "email_verified": true})
	require.Equal(t, 201, user.status, user.raw)
	petra := user.body["result"].(map[string]any)["id"].(string)
	assert.Equal(t, 409, apiCall(t, auth, http.MethodPost, "/admin/users", admin, jsonObj{"name": "petra", "password": "petra-password-1"}).status)
	assert.Equal(t, 200, apiCall(t, auth, http.MethodGet, "/admin/users/"+petra, admin, nil).status)
	assert.Equal(t, 400, apiCall(t, auth, http.MethodPatch, "/admin/users/"+petra, admin, jsonObj{}).status)

	// UserInfo with the token in the header and in the body, and its
	// RFC 6750 refusals; the discovery document that names it.
	assert.Equal(t, 200, get(t, auth.url("/.well-known/openid-configuration")).status)
	tok := postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"password"}, "username": {"petra"},
		"password": {"petra-password-1"}, "scope": {"openid profile email"}}, "contract", secret)
	require.Equal(t, 200, tok.status, tok.raw)
	openid := tok.body["access_token"].(string)
	assert.Equal(t, 200, get(t, auth.url("/oauth/userinfo"), "Authorization", "Bearer "+openid).status)
	assert.Equal(t, 200, postForm(t, auth.url("/oauth/userinfo"), url.Values{"access_token": {openid}}, "", "").status)
	assert.Equal(t, 401, get(t, auth.url("/oauth/userinfo")).status)
	assert.Equal(t, 401, postForm(t, auth.url("/oauth/userinfo"), url.Values{"access_token": {"not-a-token"}}, "", "").status)
	assert.Equal(t, 403, get(t, auth.url("/oauth/userinfo"), "Authorization", "Bearer "+plain).status, "no openid scope")
	assert.Equal(t, 400, get(t, auth.url("/oauth/userinfo?access_token="+openid)).status, "never in the URL")

	assert.Equal(t, 200, apiCall(t, auth, http.MethodPatch, "/admin/users/"+petra, admin, jsonObj{"disabled": true}).status)
	assert.Equal(t, 204, apiCall(t, auth, http.MethodDelete, "/admin/users/"+petra, admin, nil).status)
	assert.Equal(t, 404, apiCall(t, auth, http.MethodDelete, "/admin/users/"+petra, admin, nil).status)
	assert.Equal(t, 204, apiCall(t, auth, http.MethodDelete, "/admin/clients/contract", admin, nil).status)

	preflight, err := http.NewRequest(http.MethodOptions, auth.url("/oauth/token"), nil)
	require.NoError(t, err)
	preflight.Header.Set("Origin", "http://localhost:5003")
	preflight.Header.Set("Access-Control-Request-Method", http.MethodPost)
	assert.Equal(t, 204, send(t, preflight).status)

	assert.Equal(t, 404, get(t, auth.url("/oauth/nothing-here")).status, "the router's 404 is outside the document")
	assert.Equal(t, 405, get(t, auth.url("/oauth/token")).status, "and so is its 405")
	assert.Equal(t, before, contract.failureCount(), "every exchange above matches the document")

	// What the document does not allow is caught.
	asJSON := http.Header{"Content-Type": {"application/json"}}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, c := range []struct {
		name, method, path string
		reqHeader          http.Header
		reqBody            string
		status             int
		body               string
	}{
		{"undocumented status", "POST", "/oauth/token", form, "grant_type=password", 418, `{"error":"teapot"}`},
		{"token response without expires_in", "POST", "/oauth/token", form, "grant_type=password", 200, `{"access_token":"a","token_type":"Bearer"}`},
		{"RFC 6749 error without error", "POST", "/oauth/token", form, "grant_type=password", 400, `{"error_description":"x"}`},
		{"API error in the OAuth shape", "POST", "/api/accounts", asJSON, `{"name":"a","password":"b"}`, 409, `{"error":"conflict"}`},
		{"accepted request the document refuses", "POST", "/oauth/token", form, "scope=x", 200,
			`{"access_token":"a","token_type":"Bearer","expires_in":5}`},
		{"a JSON endpoint the document does not name", "GET", "/oauth/secret-api", nil, "", 200, `{}`},
		{"a method the document does not name", "DELETE", "/oauth/jwks.json", nil, "", 200, `{}`},
		{"an admin client without managed_by", "GET", "/api/admin/clients/x", nil, "", 200,
			`{"result":{"id":"x","name":"x","type":"public","redirect_uris":[],"grant_types":[],"scopes":[],"token_endpoint_auth_methods":["none"],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}`},
		{"a UserInfo claim the document does not name", "GET", "/oauth/userinfo", nil, "", 200, `{"sub":"u","birthdate":"2000-01-01"}`},
		{"a UserInfo 401 without its Bearer challenge", "GET", "/oauth/userinfo", nil, "", 401, `{"error":"invalid_token"}`},
		{"a created user without Location", "POST", "/api/admin/users", asJSON, `{"name":"a","password":"b"}`, 201,
			`{"result":{"id":"x","name":"x","admin":false,"disabled":false,"display_name":"","email":"","email_verified":false,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}`},
		{"an admin status the document does not list", "GET", "/api/admin/users", nil, "", 404, `{"errors":[{"message":"x"}]}`},
	} {
		req, err := http.NewRequest(c.method, auth.url(c.path), nil)
		require.NoError(t, err)
		for k, v := range c.reqHeader {
			req.Header[k] = v
		}
		resp := &http.Response{StatusCode: c.status, Header: asJSON}
		problems, _ := contract.check(req, []byte(c.reqBody), resp, []byte(c.body))
		assert.NotEmpty(t, problems, c.name)
	}
}

// seenOperations lists what the suite exercised, for a reader of -v.
func (c *contractCheck) seenOperations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.seen))
	for k := range c.seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
