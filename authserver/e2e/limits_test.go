package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentPasswordGuesses sends 300 wrong passwords for alice at once
// through the real binary, from one address (forwarded by a trusted
// proxy): only the free failures of that account and source are evaluated,
// as the audit trail shows; the rest are refused at once with Retry-After.
// The right password from another address still gets a token, and so does
// the webapp's user.
func TestConcurrentPasswordGuesses(t *testing.T) {
	s := startSystemWith(t, map[string]string{
		"AUTHSERVER_HTTP_TRUSTED_PROXIES": "127.0.0.1,::1",
		// The wait after the free failures: long enough that the guessing
		// address still waits at the end, however loaded the machine
		// (the default 1 s can pass while the audit trail is read).
		"AUTHSERVER_LOGIN_LIMITS_BASE_DELAY": "10m",
	})
	tokenURL := s.auth.url("/oauth/token")
	from := func(addr, password string) (*http.Response, []byte, error) {
		form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {password}}
		req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		req.SetBasicAuth(demoClient, demoSecret)
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp, raw, err
	}
	// One good request first, so the client's own secret is verified and
	// cached: what is measured below is the user's password alone.
	resp, raw, err := from("192.0.2.50", "alice-password")
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, string(raw))

	const n = 300
	type answer struct {
		status     int
		desc       string
		retryAfter string
		err        error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, raw, err := from("198.51.100.1", "guess")
			if err != nil {
				answers[i].err = err
				return
			}
			var body struct {
				Desc string `json:"error_description"`
			}
			_ = json.Unmarshal(raw, &body)
			answers[i] = answer{status: resp.StatusCode, desc: body.Desc, retryAfter: resp.Header.Get("Retry-After")}
		})
	}
	close(start)
	wg.Wait()

	wrong, throttled := 0, 0
	for _, a := range answers {
		require.NoError(t, a.err)
		require.Equal(t, 400, a.status, a.desc)
		switch {
		case a.desc == "wrong username or password":
			wrong++
		case strings.HasPrefix(a.desc, "too many failed attempts"):
			throttled++
			assert.NotEmpty(t, a.retryAfter)
		default:
			t.Errorf("unexpected answer %q", a.desc)
		}
	}
	assert.Equal(t, 5, wrong, "the free failures per account and source (login_limits.per_account_source)")
	assert.Equal(t, n-5, throttled)

	// The audit trail agrees: 5 passwords checked and refused, the rest
	// refused before any check. (The log is buffered: wait for it.)
	audited := func() (evaluated, refused int) {
		sc := bufio.NewScanner(strings.NewReader(s.auth.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Event, Detail string }
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "audit" || line.Event != "token.refused" {
				continue
			}
			switch line.Detail {
			case "invalid_grant":
				evaluated++
			case "throttled":
				refused++
			}
		}
		return evaluated, refused
	}
	require.Eventually(t, func() bool { e, r := audited(); return e+r >= n }, time.Minute, 50*time.Millisecond)
	evaluated, refused := audited()
	assert.Equal(t, 5, evaluated)
	assert.Equal(t, n-5, refused)

	resp, raw, err = from("203.0.113.9", "alice-password")
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode, "the right password from another address: %s", raw)
	resp, raw, err = from("198.51.100.1", "alice-password")
	require.NoError(t, err)
	assert.Equal(t, 400, resp.StatusCode, "from the guessing address, it waits: %s", raw)

	r := get(t, s.web.url("/current_time"), "Authorization", basic("alice", "alice-password"))
	assert.Equal(t, 200, r.status, "the webapp forwards its own caller's address: %s", r.raw)
}
