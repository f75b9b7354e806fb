package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Fuzz targets for what the edge parses from anyone on the network. Each
// asserts a property, not just the absence of a panic. CI runs each briefly
// (scripts/fuzz.sh); `go test -fuzz FuzzX` runs one for as long as wanted.

// FuzzDecodeForm: a body either is refused or parses to parameters that
// each appeared once; and re-encoding what was parsed parses back the same.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{"grant_type=password&username=alice&password=a%20b", "a=1&a=2", "a=%zz", "a;b=c",
		"&&=&x=", "code=abc&redirect_uri=http%3A%2F%2Flocalhost%3A5003%2Fcallback", "+=+&%2B=%2B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := decodeForm(body)
		if err != nil {
			return
		}
		v := url.Values{}
		for k, val := range got {
			if val == "" {
				t.Fatalf("an empty value is kept for %q", k)
			}
			v.Set(k, val)
		}
		again, err := decodeForm(v.Encode())
		if err != nil {
			t.Fatalf("re-encoded form %q refused: %v", v.Encode(), err)
		}
		if len(again) != len(got) {
			t.Fatalf("round trip changed the form: %v -> %v", got, again)
		}
		for k, val := range got {
			if again[k] != val {
				t.Fatalf("round trip changed %q: %q -> %q", k, val, again[k])
			}
		}
	})
}

// FuzzParseBasic: credentials encoded as RFC 6749 §2.3.1 says come back
// exactly; anything else is refused or yields a non-empty id.
func FuzzParseBasic(f *testing.F) {
	f.Add("Basic MTIzNDpxd2VydHk=", "1234", "qwerty")
	f.Add("basic   Og==", "id:with:colons", "")
	f.Add("Bearer abc", "a b", "c%d")
	f.Fuzz(func(t *testing.T, header, id, secret string) {
		if gotID, _, err := parseBasic(header); err == nil && gotID == "" {
			t.Fatalf("%q parsed to an empty client id", header)
		}
		if id == "" {
			return
		}
		h := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
		gotID, gotSecret, err := parseBasic(h)
		if err != nil || gotID != id || gotSecret != secret {
			t.Fatalf("(%q, %q) came back as (%q, %q, %v)", id, secret, gotID, gotSecret, err)
		}
	})
}

// FuzzSafeReturn: whatever return_to says, the browser is only ever sent
// to this server's authorize, account or developer page, never off-site.
func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/oauth/authorize?client_id=x", "//evil.example", "/\\evil.example", "https://evil.example/oauth/account",
		"/oauth/account/../../x", "/oauth/authorize\r\nLocation: x", "/%2F%2Fevil.example", "javascript:alert(1)", "/oauth/authorize#//evil"} {
		f.Add(s)
	}
	p, err := newPages("/oauth", PageConfig{}, nil, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := p.safeReturn(in)
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q -> unparsable %q", in, out)
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n") {
			t.Fatalf("%q -> %q leaves the site", in, out)
		}
		if u.Path != "/oauth/authorize" && u.Path != "/oauth/account" && u.Path != "/oauth/developer" {
			t.Fatalf("%q -> %q is not one of our pages", in, out)
		}
	})
}

// FuzzRegistrationBody: whatever a registration's body holds, it is
// refused with one of RFC 7591's codes (or as too large), never with an
// error the edge would answer 500; one accepted turns into metadata or
// an invalid_client_metadata.
func FuzzRegistrationBody(f *testing.F) {
	for _, s := range []string{`{"redirect_uris":["https://a.example/cb"]}`, `{"redirect_uris":"x"}`, `[]`, `{`, `null`,
		`{"scope":"a  b"}`, `{"grant_types":[1]}`, `{"client_name":"\u0000"}`, `{"post_logout_redirect_uris":[""]}`} {
		f.Add(s)
	}
	s, err := compileRegistrationSchema()
	if err != nil {
		f.Fatal(err)
	}
	codes := []domain.ErrorCode{domain.InvalidClientMetadata, domain.InvalidRedirectURI, domain.InvalidRequest}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		md, err := decodeRegistration(httptest.NewRecorder(), r, s)
		if err == nil {
			if len(md.RedirectURIs) > 10 || len(md.PostLogoutRedirectURIs) > 10 || len(md.GrantTypes) > 10 {
				t.Fatalf("%q: unbounded lists accepted", body)
			}
			return
		}
		if errors.Is(err, errTooLarge) {
			return
		}
		if code := domain.CodeOf(err); !slices.Contains(codes, code) {
			t.Fatalf("%q refused with %v (code %q): the edge would answer 500", body, err, code)
		}
	})
}
