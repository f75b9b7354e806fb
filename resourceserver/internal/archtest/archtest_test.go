// Package archtest holds tests of the module's shape rather than its
// behaviour: they fail CI even where the linter's depguard rule is not run.
package archtest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forbidden are the import paths (and everything under them) the inner
// layers must not reach, directly or through another package.
var forbidden = []string{
	"net/http",
	"github.com/go-chi",
	"go.uber.org/zap",
	"github.com/golang-jwt",
	"github.com/jackc",
	"github.com/redis",
}

func TestInnerLayersImportNoAdapters(t *testing.T) {
	for _, pkg := range []string{"./internal/domain", "./internal/app"} {
		t.Run(pkg, func(t *testing.T) {
			deps := goListDeps(t, pkg)
			// A guard against a silently empty list passing the test.
			require.Contains(t, deps, "github.com/oauth2ref/resourceserver/"+strings.TrimPrefix(pkg, "./"))
			for _, dep := range deps {
				for _, bad := range forbidden {
					assert.False(t, dep == bad || strings.HasPrefix(dep, bad+"/"),
						"%s depends on %s; the domain and use cases must not know about HTTP, logging, JWT or drivers", pkg, dep)
				}
			}
		})
	}
}

func TestForbiddenMatchesWhatAdaptersUse(t *testing.T) {
	// The check above would pass vacuously if the patterns were misspelt;
	// the HTTP adapter does use three of them, so they must match there.
	deps := goListDeps(t, "./internal/adapters/httpapi")
	for _, want := range []string{"net/http", "github.com/go-chi", "go.uber.org/zap"} {
		found := false
		for _, dep := range deps {
			if dep == want || strings.HasPrefix(dep, want+"/") {
				found = true
				break
			}
		}
		assert.True(t, found, "expected httpapi to depend on %s", want)
	}
}

// goListDeps returns every package pkg depends on, itself included, as go
// list sees it from the module root.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	// go test puts its own GOROOT/bin first on the PATH.
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	return strings.Fields(string(out))
}
