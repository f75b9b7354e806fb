// Package archtest checks a service's layering from its real import graph,
// the same way in every service: the domain imports only the standard
// library, the use cases only the standard library and their own domain, and
// neither reaches HTTP, a router, a logger, a JWT or OAuth library, or a
// database driver, directly or through another package. These checks are
// the ones that count: they follow the whole import graph wherever `go test`
// runs. golangci-lint's depguard rules (.golangci.yml) repeat the direct
// imports, for the editor.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// Forbidden are the import paths (and everything under them) that the inner
// layers must never reach.
var Forbidden = []string{
	"net/http",
	"github.com/go-chi/chi",
	"go.uber.org/zap",
	"github.com/golang-jwt/jwt",
	"golang.org/x/oauth2",
	"github.com/jackc/pgx",
	"github.com/redis/go-redis",
	"github.com/prometheus/client_golang",
}

// Deps lists every package pkg depends on, itself included, as `go list
// -deps` sees it.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput() //nolint:gosec,noctx // G204: the go tool on a package path of the test's own
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, pkg) {
		// A guard against a silently empty list passing every check.
		t.Fatalf("go list -deps %s did not list the package itself", pkg)
	}
	return deps
}

// CheckLayers checks module's internal/domain and internal/app. The
// adapter given as evidence (a package known to use net/http) must show up
// as depending on net/http, so that a misspelt pattern cannot make the
// checks pass vacuously.
func CheckLayers(t *testing.T, module, evidence string) {
	t.Helper()
	domain, app := module+"/internal/domain", module+"/internal/app"
	for _, c := range []struct {
		pkg     string
		allowed func(dep string) bool
	}{
		{domain, func(dep string) bool { return standard(dep) || dep == domain }},
		{app, func(dep string) bool { return standard(dep) || dep == domain || dep == app }},
	} {
		t.Run(c.pkg, func(t *testing.T) {
			for _, dep := range Deps(t, c.pkg) {
				if bad := forbidden(dep); bad != "" {
					t.Errorf("%s depends on %s: the inner layers must not know about %s", c.pkg, dep, bad)
				} else if !c.allowed(dep) {
					t.Errorf("%s depends on %s: it may import only the standard library and the layers inside it", c.pkg, dep)
				}
			}
		})
	}
	if !contains(Deps(t, module+"/"+evidence), "net/http") {
		t.Errorf("%s/%s should depend on net/http: the patterns are not matching what adapters import", module, evidence)
	}
}

// CheckNoneOf fails if pkg depends on any path under prefixes: a package
// kept free of a heavy dependency (a driver an embedder may not want).
func CheckNoneOf(t *testing.T, pkg string, prefixes ...string) {
	t.Helper()
	for _, dep := range Deps(t, pkg) {
		for _, p := range prefixes {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

func forbidden(dep string) string {
	for _, f := range Forbidden {
		if dep == f || strings.HasPrefix(dep, f+"/") {
			return f
		}
	}
	return ""
}

// standard reports whether an import path is the standard library's: its
// first element has no dot (vendor/ and internal/ of the toolchain too).
func standard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
