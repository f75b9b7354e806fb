// Package servertest holds checks that the services' tests share.
package servertest

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// volatile are headers whose values differ between two identical
// requests: the second has spent one more request of the rate limit.
var volatile = []string{"Date", "X-Request-Id", "Ratelimit"}

// HeadLikeGet asks c for url with GET and then HEAD (each request made by
// newReq, which sets any headers the route needs) and checks that HEAD
// answers what GET does, without a body (RFC 9110 §9.3.2): the same status
// and the same headers, cookies compared by name. Headers named in vary
// are compared by presence only (a fresh random value on every request).
func HeadLikeGet(t *testing.T, c *http.Client, newReq func(method string) *http.Request, vary ...string) {
	t.Helper()
	get := send(t, c, newReq(http.MethodGet))
	head := send(t, c, newReq(http.MethodHead))
	assert.Equal(t, get.StatusCode, head.StatusCode, "status")
	assert.Empty(t, head.body, "HEAD answers no body")
	// Content-Length may be left out of a HEAD answer (§8.6): net/http
	// leaves it out where the body would have been written only for GET.
	assert.Equal(t, names(get.Header, "Content-Length"), names(head.Header, "Content-Length"), "header names")
	for name, want := range get.Header {
		switch {
		case name == "Content-Length":
			if got := head.Header[name]; got != nil && !slices.Contains(vary, name) {
				assert.Equal(t, want, got, name)
			}
		case name == "Set-Cookie":
			assert.Equal(t, cookieNames(get.Response), cookieNames(head.Response), "cookies")
		case slices.Contains(volatile, name), slices.Contains(vary, name):
		default:
			assert.Equal(t, want, head.Header[name], name)
		}
	}
}

type answer struct {
	*http.Response
	body []byte
}

func send(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp, body}
}

func names(h http.Header, except string) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		if k != except {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func cookieNames(resp *http.Response) []string {
	var out []string
	for _, c := range resp.Cookies() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}
