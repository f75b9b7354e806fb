package app_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependenciesPointInward fails if the domain or the use cases come to
// depend on a transport, a logger or an OAuth/JWT/storage library, even
// where the linter does not run. It reads the real import graph, so an
// indirect import through another package is caught too.
func TestDependenciesPointInward(t *testing.T) {
	forbidden := []string{
		"net/http",
		"github.com/go-chi",
		"go.uber.org/zap",
		"golang.org/x/oauth2",
		"github.com/golang-jwt",
		"github.com/jackc",
		"github.com/redis",
	}
	const module = "github.com/oauth2ref/webapp"
	for _, pkg := range []string{module + "/internal/domain", module + "/internal/app"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
			require.NoError(t, err, "go list: %s", out)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, pkg, "go list really listed the package")
			for _, dep := range deps {
				for _, f := range forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
				if strings.HasSuffix(pkg, "/domain") && strings.Contains(strings.Split(dep, "/")[0], ".") && dep != pkg {
					t.Errorf("domain must import only the standard library, but depends on %s", dep)
				}
			}
		})
	}
}
