package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Clients.

const clientColumns = `id, name, type, secret_hash, auth_methods, grant_types, redirect_uris,
	scopes, default_scopes, audience, access_token_ttl_ms, refresh_token_ttl_ms,
	introspection, allow_plain_pkce, pkce_optional, rate_limit_rps, rate_limit_burst,
	created_at, updated_at`

func scanClient(r row) (domain.Client, error) {
	var (
		c                                     domain.Client
		typ                                   string
		authMethods, grantTypes, redirectURIs []string
		scopes, defaultScopes, audience       []string
		accessTTL, refreshTTL                 int64
		burst                                 int32
		createdAt, updatedAt                  time.Time
	)
	err := r.Scan(&c.ID, &c.Name, &typ, &c.SecretHash, &authMethods, &grantTypes, &redirectURIs,
		&scopes, &defaultScopes, &audience, &accessTTL, &refreshTTL,
		&c.Introspection, &c.AllowPlainPKCE, &c.PKCEOptional, &c.RateLimit.PerSecond, &burst, &createdAt, &updatedAt)
	if err != nil {
		return domain.Client{}, err
	}
	c.Type = domain.ClientType(typ)
	c.AuthMethods = typed[domain.AuthMethod](authMethods)
	c.GrantTypes = typed[domain.GrantType](grantTypes)
	c.RedirectURIs = typed[string](redirectURIs)
	c.Scopes = domain.NewScope(scopes...)
	c.DefaultScopes = domain.NewScope(defaultScopes...)
	c.Audience = typed[string](audience)
	c.AccessTokenTTL, c.RefreshTokenTTL = duration(accessTTL), duration(refreshTTL)
	c.RateLimit.Burst = int(burst)
	c.CreatedAt, c.UpdatedAt = utc(createdAt), utc(updatedAt)
	return c, nil
}

// FindClient returns the client registered under id, or domain.ErrNotFound.
func (s *Store) FindClient(ctx context.Context, id string) (domain.Client, error) {
	return queryOne(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id)
}

// SaveClient creates or replaces c.
func (s *Store) SaveClient(ctx context.Context, c domain.Client) error {
	_, err := s.exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (id) DO UPDATE SET
			name = EXCLUDED.name, type = EXCLUDED.type, secret_hash = EXCLUDED.secret_hash,
			auth_methods = EXCLUDED.auth_methods, grant_types = EXCLUDED.grant_types,
			redirect_uris = EXCLUDED.redirect_uris, scopes = EXCLUDED.scopes,
			default_scopes = EXCLUDED.default_scopes, audience = EXCLUDED.audience,
			access_token_ttl_ms = EXCLUDED.access_token_ttl_ms,
			refresh_token_ttl_ms = EXCLUDED.refresh_token_ttl_ms,
			introspection = EXCLUDED.introspection, allow_plain_pkce = EXCLUDED.allow_plain_pkce,
			pkce_optional = EXCLUDED.pkce_optional,
			rate_limit_rps = EXCLUDED.rate_limit_rps, rate_limit_burst = EXCLUDED.rate_limit_burst,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
		c.ID, c.Name, string(c.Type), c.SecretHash, strs(c.AuthMethods), strs(c.GrantTypes), strs(c.RedirectURIs),
		strs(domain.NewScope(c.Scopes...)), strs(domain.NewScope(c.DefaultScopes...)), strs(c.Audience),
		millis(c.AccessTokenTTL), millis(c.RefreshTokenTTL),
		c.Introspection, c.AllowPlainPKCE, c.PKCEOptional, c.RateLimit.PerSecond, c.RateLimit.Burst,
		c.CreatedAt, c.UpdatedAt)
	return err
}

// ListClients returns every client, by id.
func (s *Store) ListClients(ctx context.Context) ([]domain.Client, error) {
	return queryAll(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
}

// DeleteClient deletes a client; domain.ErrNotFound if there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return domain.ErrNotFound
	}
	return nil
}

// Scopes.

// SaveScope creates or replaces a scope's description.
func (s *Store) SaveScope(ctx context.Context, sc domain.ScopeInfo) error {
	_, err := s.exec(ctx, `INSERT INTO scopes (name, description) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description`, sc.Name, sc.Description)
	return err
}

// ListScopes returns every scope, by name.
func (s *Store) ListScopes(ctx context.Context) ([]domain.ScopeInfo, error) {
	return queryAll(ctx, s, func(r row) (domain.ScopeInfo, error) {
		var sc domain.ScopeInfo
		err := r.Scan(&sc.Name, &sc.Description)
		return sc, err
	}, `SELECT name, description FROM scopes ORDER BY name`)
}

// Users.

const userColumns = `id, username, password_hash, created_at, updated_at`

func scanUser(r row) (domain.User, error) {
	var u domain.User
	if err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return domain.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, nil
}

// FindUserByUsername returns the user whose login name is username, or
// domain.ErrNotFound.
func (s *Store) FindUserByUsername(ctx context.Context, username string) (domain.User, error) {
	return queryOne(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE username = $1`, username)
}

// FindUser returns the user with the given id, or domain.ErrNotFound.
func (s *Store) FindUser(ctx context.Context, id string) (domain.User, error) {
	return queryOne(ctx, s, scanUser, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
}

// SaveUser creates or updates u; domain.ErrConflict if its username belongs
// to another user (the unique constraint on username says so).
//
// Two inserts of one new user at once (replicas loading the same fixtures)
// can make the second trip over the username's unique index before the
// id's, where ON CONFLICT (id) would have turned it into an update. When
// the username turns out to be this very user's, the upsert runs again and
// now finds the row by id.
func (s *Store) SaveUser(ctx context.Context, u domain.User) error {
	for attempt := 1; ; attempt++ {
		_, err := s.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username,
				password_hash = EXCLUDED.password_hash,
				created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
			u.ID, u.Username, u.PasswordHash, u.CreatedAt, u.UpdatedAt)
		var pgErr *pgconn.PgError
		if err == nil || attempt == 3 || !errors.As(err, &pgErr) || pgErr.ConstraintName != "users_username_key" {
			return err
		}
		owner, ferr := s.FindUserByUsername(ctx, u.Username)
		if ferr != nil || owner.ID != u.ID {
			return err
		}
	}
}
