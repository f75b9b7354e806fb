package archtest

import (
	"testing"

	"github.com/oauth2ref/pkg/archtest"
)

// A program that embeds the server with memory storage, or stores of its
// own, links no database driver: they come only with authserver/storage.
func TestEmbeddingLinksNoDriver(t *testing.T) {
	archtest.CheckNoneOf(t, "github.com/oauth2ref/authserver",
		"github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/go-redis/redis_rate")
}

// Nor any metrics library: metrics are the composition root's to opt into
// (pkg/metrics in the router's stack), not the library's.
func TestEmbeddingLinksNoMetrics(t *testing.T) {
	archtest.CheckNoneOf(t, "github.com/oauth2ref/authserver",
		"github.com/prometheus", "github.com/oauth2ref/pkg/metrics")
}
