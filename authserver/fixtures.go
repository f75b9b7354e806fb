package authserver

import (
	"context"
	"fmt"
	"time"

	"github.com/oauth2ref/authserver/internal/adapters/fixtures"
	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/precis"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// LoadSummary says what LoadData or ReloadFixtures wrote: counts, and the
// ids of the clients added and changed.
type LoadSummary struct {
	Scopes, ClientsWritten, ClientsUnchanged, UsersWritten, UsersUnchanged int
	ScopesWritten                                                          int
	ClientsAdded, ClientsChanged                                           []string
	// ClientsSkipped generate their secret, and no WithSecretsDir says
	// where to keep it.
	ClientsSkipped []string
}

// LoadData loads scopes, clients and users from fixture files into the
// stores the options name (WithStores; memory is of no use here), all of
// them or, if any file or record is bad, none. Running it twice changes
// nothing.
func LoadData(ctx context.Context, files []string, opts ...Option) (LoadSummary, error) {
	s, err := configure(opts)
	if err != nil {
		return LoadSummary{}, err
	}
	hasher := hashing.NewHasher(hashing.Argon2Params(s.Argon2), s.HashConcurrency)
	return newFixtureLoader(s.withMemoryStores(), hasher, s.secrets(), s.clock).load(ctx, files)
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
	return srv.fixtures.load(ctx, files)
}

// fixtureLoader reads fixture files and hands them to the provisioner.
type fixtureLoader struct {
	provisioner *app.Provisioner
}

func newFixtureLoader(st Stores, hasher app.FixtureHasher, secrets app.SecretKeeper, clock func() time.Time) *fixtureLoader {
	return &fixtureLoader{provisioner: app.NewProvisioner(app.ProvisionerDeps{
		Clients: st.Clients, Users: st.Users, Scopes: st.Clients, Batch: batch{st},
		Hasher: hasher, Secrets: secrets, Text: precis.Rules{}, Now: clock,
	})}
}

// secrets keeps the fixture clients' generated secrets in the secrets
// directory; nil without one.
func (s settings) secrets() app.SecretKeeper {
	if s.secretsDir == "" {
		return nil
	}
	return fixtures.SecretDir(s.secretsDir)
}

func (l *fixtureLoader) load(ctx context.Context, paths []string) (LoadSummary, error) {
	sch, err := fixtures.Schema()
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	set, err := fixtures.ReadFiles(sch, paths...)
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	sum, err := l.provisioner.Provision(ctx, set.Fixtures())
	if err != nil {
		return LoadSummary{}, fmt.Errorf("authserver: %w", err)
	}
	return LoadSummary(sum), nil
}

// batch saves a fixture load as the stores allow (see Stores.Batch).
type batch struct{ st Stores }

func (b batch) SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	if b.st.Batch != nil {
		return b.st.Batch.SaveBatch(ctx, scopes, clients, users)
	}
	if len(users) > 0 {
		if us, ok := b.st.Users.(BatchSaver); ok {
			if err := us.SaveBatch(ctx, nil, nil, users); err != nil {
				return err
			}
		} else {
			for _, u := range users {
				if err := b.st.Users.SaveUser(ctx, u); err != nil {
					return err
				}
			}
		}
	}
	if cs, ok := b.st.Clients.(BatchSaver); ok {
		return cs.SaveBatch(ctx, scopes, clients, nil)
	}
	for _, sc := range scopes {
		if err := b.st.Clients.SaveScope(ctx, sc); err != nil {
			return err
		}
	}
	for _, c := range clients {
		if err := b.st.Clients.SaveClient(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
