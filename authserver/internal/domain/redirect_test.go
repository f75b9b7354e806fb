package domain

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateRedirectURI(t *testing.T) {
	good := []string{
		"https://app.example/cb",
		"https://app.example:8443/cb?keep=1",
		"http://localhost:5003/callback",
		"http://127.0.0.1:8080/cb",
		"http://[::1]/cb",
		"com.example.app:/oauth2redirect",
	}
	for _, u := range good {
		assert.NoError(t, ValidateRedirectURI(u), u)
	}
	bad := []string{
		"", "/relative", "app.example/cb", "https://app.example/cb#frag", "https://app.example/cb#",
		"http://app.example/cb", "http://localhost.evil.example/cb", "http://127.0.0.1.nip.io/cb",
		"https://user:pw@app.example/cb", "javascript:alert(1)", "data:text/html,hi", "myapp:/cb",
		"com.example.app://host/cb", "https:///cb", "https://app.example/c b", "https://app.example\\@evil/",
		"https://" + strings.Repeat("a", 2050),
	}
	for _, u := range bad {
		assert.Error(t, ValidateRedirectURI(u), u)
	}
}

// FuzzValidateRedirectURI: whatever is accepted is an absolute URI with no
// fragment or user information, whose scheme is https, http to a loopback
// host, or a reverse-domain private-use scheme without a host.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{"https://app.example/cb", "http://localhost:5003/callback", "http://[::1]:80/x?y=1",
		"com.example.app:/cb", "http://127.0.0.1.evil/", "https://a@b/", "HTTPS://APP.EXAMPLE/", "https://app.example/%2F..%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
			t.Fatalf("accepted %q: parse %v, fragment %q, user %v", raw, err, u.Fragment, u.User)
		}
		switch scheme := strings.ToLower(u.Scheme); {
		case scheme == "https":
			if u.Hostname() == "" {
				t.Fatalf("accepted https without a host: %q", raw)
			}
		case scheme == "http":
			if !loopbackHost(u.Hostname()) {
				t.Fatalf("accepted http to a non-loopback host: %q", raw)
			}
		case strings.Contains(scheme, "."):
			if u.Host != "" {
				t.Fatalf("accepted a private-use scheme with a host: %q", raw)
			}
		default:
			t.Fatalf("accepted scheme %q: %q", u.Scheme, raw)
		}
	})
}

func TestValidateWebRedirectURI(t *testing.T) {
	for _, ok := range []string{"https://app.example/cb", "http://localhost:8080/cb", "http://127.0.0.1/cb", "HTTPS://APP.EXAMPLE/"} {
		if err := ValidateWebRedirectURI(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"com.example.app:/cb", "http://app.example/cb", "https://app.example/cb#f", "ftp://x.example/"} {
		if ValidateWebRedirectURI(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
