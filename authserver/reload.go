package authserver

import (
	"context"
	"sync"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
)

// fixtureLoader loads fixtures into a running server's stores, one load at
// a time.
type fixtureLoader struct {
	mu     sync.Mutex
	stores *stores
	hasher *hashing.Hasher
	s      settings
}

// ReloadFixtures loads scopes, clients and users from fixture files into
// the running server, as LoadData does: every file is read and checked
// against the schema and every record against the domain's rules first,
// and then all changes are saved in one step (one transaction in
// PostgreSQL; one lock in memory), so a bad file or record leaves
// everything as it was and says why. A new or changed client is served at
// once, the client cache and the CORS origins included. Records are added
// or updated, never deleted: a client left out of the files stays.
//
// When clients and users live on different backends, the users are saved
// first and the clients second, each in one step.
func (srv *Server) ReloadFixtures(ctx context.Context, files ...string) (LoadSummary, error) {
	l := srv.fixtures
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadFixtures(ctx, files, l.stores, l.hasher, l.s)
}
