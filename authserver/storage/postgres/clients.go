package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Clients.

const clientColumns = `id, name, type, secret_hash, auth_methods, grant_types, redirect_uris,
	scopes, default_scopes, audience, access_token_ttl_ms, refresh_token_ttl_ms,
	introspection, allow_plain_pkce, pkce_optional, rate_limit_rps, rate_limit_burst,
	allowed_origins, managed_by, id_token_alg, post_logout_redirect_uris, owner, registration_token_hash, created_at, updated_at`

func scanClient(r row) (domain.Client, error) {
	var (
		c                                     domain.Client
		typ                                   string
		authMethods, grantTypes, redirectURIs []string
		scopes, defaultScopes, audience       []string
		origins, postLogout                   []string
		managedBy                             string
		accessTTL, refreshTTL                 int64
		burst                                 int32
		createdAt, updatedAt                  time.Time
	)
	err := r.Scan(&c.ID, &c.Name, &typ, &c.SecretHash, &authMethods, &grantTypes, &redirectURIs,
		&scopes, &defaultScopes, &audience, &accessTTL, &refreshTTL,
		&c.Introspection, &c.AllowPlainPKCE, &c.PKCEOptional, &c.RateLimit.PerSecond, &burst, &origins, &managedBy,
		&c.IDTokenAlg, &postLogout, &c.Owner, &c.RegistrationTokenHash, &createdAt, &updatedAt)
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
	c.AllowedOrigins = typed[string](origins)
	c.ManagedBy = domain.ClientManager(managedBy)
	c.PostLogoutRedirectURIs = typed[string](postLogout)
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
	_, err := s.exec(ctx, saveClientSQL, clientArgs(c)...)
	return err
}

const saveClientSQL = `INSERT INTO clients (` + clientColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)
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
			allowed_origins = EXCLUDED.allowed_origins, managed_by = EXCLUDED.managed_by,
			id_token_alg = EXCLUDED.id_token_alg, post_logout_redirect_uris = EXCLUDED.post_logout_redirect_uris,
			owner = EXCLUDED.owner, registration_token_hash = EXCLUDED.registration_token_hash,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`

func clientArgs(c domain.Client) []any {
	return []any{c.ID, c.Name, string(c.Type), c.SecretHash, strs(c.AuthMethods), strs(c.GrantTypes), strs(c.RedirectURIs),
		strs(domain.NewScope(c.Scopes...)), strs(domain.NewScope(c.DefaultScopes...)), strs(c.Audience),
		millis(c.AccessTokenTTL), millis(c.RefreshTokenTTL),
		c.Introspection, c.AllowPlainPKCE, c.PKCEOptional, c.RateLimit.PerSecond, c.RateLimit.Burst,
		strs(c.AllowedOrigins), string(c.ManagedBy), c.IDTokenAlg, strs(c.PostLogoutRedirectURIs), c.Owner, c.RegistrationTokenHash,
		c.CreatedAt, c.UpdatedAt}
}

// OriginAllowed reports whether any client allows origin.
func (s *Store) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	return queryOne(ctx, s, func(r row) (bool, error) {
		var ok bool
		err := r.Scan(&ok)
		return ok, err
	}, `SELECT EXISTS (SELECT 1 FROM clients WHERE $1 = ANY (allowed_origins))`, origin)
}

// ClientOrigins returns every origin some client allows, each once.
func (s *Store) ClientOrigins(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s, func(r row) (string, error) {
		var o string
		err := r.Scan(&o)
		return o, err
	}, `SELECT DISTINCT unnest(allowed_origins) FROM clients`)
}

// CreateClient inserts a new client; domain.ErrConflict if its id is
// taken, or was a deleted client's.
//
// The deleted ids are read after the insert, in a statement of its own:
// an insert that raced a deletion of the same id waited on the deleted
// row's lock until that deletion committed, so this read sees its
// tombstone.
func (s *Store) CreateClient(ctx context.Context, c domain.Client) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
			clientArgs(c)...); err != nil {
			return err
		}
		var gone bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deleted_clients WHERE id = $1)`, c.ID).Scan(&gone); err != nil {
			return err
		}
		if gone {
			return fmt.Errorf("client %q was deleted: %w", c.ID, domain.ErrConflict)
		}
		return nil
	})
}

// UpdateClient locks the client's row, runs update on it and writes the
// result, in one transaction (see app.ClientRegistry).
func (s *Store) UpdateClient(ctx context.Context, id string, update func(c *domain.Client) error) error {
	var refused error
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		c, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if err := update(&c); err != nil {
			refused = err
			return errRollback
		}
		c.ID = id
		_, err = tx.Exec(ctx, saveClientSQL, clientArgs(c)...)
		return err
	})
	if refused != nil {
		return refused
	}
	return err
}

// ListClients returns up to limit clients whose ids sort after after, in
// byte order, and how many clients there are in all.
func (s *Store) ListClients(ctx context.Context, after string, limit int) ([]domain.Client, int, error) {
	total, err := queryOne(ctx, s, scanCount, `SELECT count(*) FROM clients`)
	if err != nil {
		return nil, 0, err
	}
	list, err := queryAll(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return list, total, err
}

// ListOwnedClients returns up to limit of the clients owner registered,
// by id.
func (s *Store) ListOwnedClients(ctx context.Context, owner string, limit int) ([]domain.Client, error) {
	if owner == "" {
		return []domain.Client{}, nil // the clients nobody owns are not a list
	}
	return queryAll(ctx, s, scanClient, `SELECT `+clientColumns+` FROM clients
		WHERE owner = $1 AND owner <> '' ORDER BY id LIMIT $2`, owner, limit)
}

func scanCount(r row) (int, error) {
	var n int
	err := r.Scan(&n)
	return n, err
}

// DeleteClient deletes a client and records its id as deleted, in one
// transaction; domain.ErrNotFound if there is none.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `INSERT INTO deleted_clients (id, deleted_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, s.now())
		return err
	})
}

// Scopes.

// SaveScope creates or replaces a scope's description.
func (s *Store) SaveScope(ctx context.Context, sc domain.ScopeInfo) error {
	_, err := s.exec(ctx, saveScopeSQL, sc.Name, sc.Description)
	return err
}

const saveScopeSQL = `INSERT INTO scopes (name, description) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description`

// ListScopes returns every scope, by name.
func (s *Store) ListScopes(ctx context.Context) ([]domain.ScopeInfo, error) {
	return queryAll(ctx, s, func(r row) (domain.ScopeInfo, error) {
		var sc domain.ScopeInfo
		err := r.Scan(&sc.Name, &sc.Description)
		return sc, err
	}, `SELECT name, description FROM scopes ORDER BY name`)
}

// Users.

const userColumns = `id, username, password_hash, admin, disabled, name, email, email_verified, created_at, updated_at`

func scanUser(r row) (domain.User, error) {
	var u domain.User
	if err := r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Admin, &u.Disabled, &u.Name, &u.Email, &u.EmailVerified, &u.CreatedAt, &u.UpdatedAt); err != nil {
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
		_, err := s.exec(ctx, saveUserSQL, userArgs(u)...)
		if err == nil || attempt == 3 || !s.ownName(ctx, err, u) {
			return err
		}
	}
}

const saveUserSQL = `INSERT INTO users (` + userColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username,
		password_hash = EXCLUDED.password_hash, admin = EXCLUDED.admin, disabled = EXCLUDED.disabled,
		name = EXCLUDED.name, email = EXCLUDED.email, email_verified = EXCLUDED.email_verified,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`

func userArgs(u domain.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.Admin, u.Disabled, u.Name, u.Email, u.EmailVerified, u.CreatedAt, u.UpdatedAt}
}

// UpdateUser locks the user's row, runs update on it and writes the result,
// in one transaction (see app.UserStore).
func (s *Store) UpdateUser(ctx context.Context, id string, update func(u *domain.User) error) error {
	var refused error
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if err := update(&u); err != nil {
			refused = err
			return errRollback
		}
		u.ID = id // an id update changed is ignored (app.UserStore)
		_, err = tx.Exec(ctx, `UPDATE users SET username = $2, password_hash = $3, admin = $4, disabled = $5,
			name = $6, email = $7, email_verified = $8, created_at = $9, updated_at = $10 WHERE id = $1`, userArgs(u)...)
		return err
	})
	if refused != nil {
		return refused
	}
	return err
}

// DeleteUser deletes the user's row; domain.ErrNotFound if there is none.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

// ListUsers returns up to limit users whose ids sort after after, in
// byte order, and how many users there are in all.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]domain.User, int, error) {
	total, err := queryOne(ctx, s, scanCount, `SELECT count(*) FROM users`)
	if err != nil {
		return nil, 0, err
	}
	list, err := queryAll(ctx, s, scanUser, `SELECT `+userColumns+` FROM users
		WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`, after, limit)
	return list, total, err
}

// ownName reports whether err is the username's unique index tripped by
// a concurrent insert of this very user, which a second try turns into an
// update.
func (s *Store) ownName(ctx context.Context, err error, u domain.User) bool {
	if !usernameTaken(err) {
		return false
	}
	owner, ferr := s.FindUserByUsername(ctx, u.Username)
	return ferr == nil && owner.ID == u.ID
}

// SaveBatch saves scopes, clients and users in one transaction: all or
// none. A username that belongs to another user is domain.ErrConflict.
func (s *Store) SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, sc := range scopes {
				b.Queue(saveScopeSQL, sc.Name, sc.Description)
			}
			for _, c := range clients {
				b.Queue(saveClientSQL, clientArgs(c)...)
			}
			for _, u := range users {
				b.Queue(saveUserSQL, userArgs(u)...)
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err == nil || attempt == 3 || !usernameTaken(err) {
			return err
		}
	}
}

// usernameTaken reports whether err is a trip over the username's unique
// index. In a batch it may be a replica inserting the same new user at
// the same moment, which a second try turns into an update; a name that
// really belongs to another user fails every try.
func usernameTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.ConstraintName == "users_username_key"
}
