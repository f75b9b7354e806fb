package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzBearerToken: a token is taken only from exactly one Authorization
// header of the Bearer scheme, and only if it is an RFC 6750 b64token, so
// nothing else ever reaches the authorization server.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def-ghi_jkl~", "bearer   x==", "Bearer a=b", "Basic Zm9vOmJhcg==", "Bearer ", "Bearer a b", "BEARER Zg"} {
		f.Add(s, "")
	}
	f.Add("Bearer a", "Bearer b")
	f.Fuzz(func(t *testing.T, first, second string) {
		h := http.Header{}
		h.Add("Authorization", first)
		if second != "" {
			h.Add("Authorization", second)
		}
		tok, err := bearerToken(h)
		if err != nil {
			return
		}
		if second != "" {
			t.Fatalf("a token was taken from two headers (%q, %q)", first, second)
		}
		scheme, _, _ := strings.Cut(first, " ")
		if !strings.EqualFold(scheme, "Bearer") || !isB64Token(tok) || !strings.HasSuffix(first, tok) {
			t.Fatalf("%q gave token %q", first, tok)
		}
	})
}
