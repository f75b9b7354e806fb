package archtest

import "testing"

func TestPatterns(t *testing.T) {
	if forbidden("net/http/httptest") != "net/http" || forbidden("github.com/jackc/pgx/v5/pgconn") != "github.com/jackc/pgx" {
		t.Fatal("prefixes must match what is under them")
	}
	if forbidden("net/https-like") != "" || forbidden("github.com/go-chi/chi2") != "" {
		t.Fatal("a prefix must end at a path element")
	}
	for path, want := range map[string]bool{"fmt": true, "crypto/sha256": true, "vendor/golang.org/x/crypto/cryptobyte": true,
		"github.com/oauth2ref/pkg": false, "golang.org/x/text": false} {
		if standard(path) != want {
			t.Errorf("standard(%q) = %v", path, !want)
		}
	}
}

// The package's own imports: the standard library only.
func TestDepsOfThisPackage(t *testing.T) {
	for _, dep := range Deps(t, "github.com/oauth2ref/pkg/archtest") {
		if !standard(dep) && dep != "github.com/oauth2ref/pkg/archtest" {
			t.Errorf("archtest depends on %s", dep)
		}
	}
}
