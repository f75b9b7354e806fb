// Package archtest holds the test that keeps dependencies pointing inward:
// the domain and the use cases must not reach HTTP, routers, drivers, the
// logger or the JWT library. golangci-lint's depguard says the same where it
// runs; this test says it wherever `go test` runs.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

var forbidden = []string{
	"net/http",
	"github.com/go-chi/",
	"go.uber.org/zap",
	"github.com/golang-jwt/",
	"github.com/jackc/",
	"github.com/redis/",
	"golang.org/x/oauth2",
	"github.com/oauth2ref/authserver/internal/adapters",
}

func TestInnerLayersImportNoAdapters(t *testing.T) {
	for _, pkg := range []string{"../domain", "../app"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
