// Package archtest holds the test that keeps this service's dependencies
// pointing inward, the same check every service runs (pkg/archtest).
package archtest

import (
	"testing"

	"github.com/oauth2ref/pkg/archtest"
)

func TestDependenciesPointInward(t *testing.T) {
	archtest.CheckLayers(t, "github.com/oauth2ref/resourceserver", "internal/adapters/httpapi")
}
