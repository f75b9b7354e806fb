package authserver

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Management is the management of clients and users without a server
// running: what `authserver clients` and `authserver users` do on the
// configured stores. The calls, rules, cascades and errors are
// Server.Clients' and Server.Users'; a running server on the same stores
// sees the changes (other replicas' client caches within their TTL).
type Management struct {
	clients *Clients
	users   *Users
}

// Manage opens the management of the stores the options name
// (WithStores; memory, the default, lasts as long as the Management). It
// needs no signing key and starts nothing in the background.
func Manage(ctx context.Context, opts ...Option) (*Management, error) {
	s, st, c, err := openCore(ctx, opts)
	if err != nil {
		return nil, err
	}
	reg := clientRegistryOf(st)
	admin := newAdmin(s, st, newAccounts(s, st, c, nil, reg), noTokens{}, reg)
	return &Management{clients: &Clients{admin: admin}, users: &Users{admin: admin}}, nil
}

// Clients returns the management of clients.
func (m *Management) Clients() *Clients { return m.clients }

// Users returns the management of users.
func (m *Management) Users() *Users { return m.users }

// noTokens verifies no access token: management from Go or the CLI is
// the operator's, never a token's.
type noTokens struct{}

func (noTokens) VerifyAccessToken(context.Context, string) (domain.AccessToken, error) {
	return domain.AccessToken{}, errors.New("no access tokens here")
}
