package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Fixtures are scopes, clients and users as an operator describes them
// (in files, for the fixtures adapter): records to add or change, never to
// delete.
type Fixtures struct {
	Scopes  []domain.ScopeInfo
	Clients []FixtureClient
	Users   []FixtureUser
}

// FixtureClient is a client as a fixture describes it. What it leaves out
// gets the defaults Provision gives: AuthMethods by the client's type, and
// AllowedOrigins, when nil (not merely empty), the redirect URIs' origins.
// Timestamps are Provision's to set.
type FixtureClient struct {
	Client domain.Client
	// Secret is the secret in clear, hashed on load; "" keeps
	// Client.SecretHash as given.
	Secret string
	// GenerateSecret asks for a secret the server makes, the first time,
	// and keeps where the operator reads it (SecretKeeper): no one ever
	// types or commits it. Without a keeper, the client is skipped.
	GenerateSecret bool
}

// FixtureUser is a user as a fixture describes it.
type FixtureUser struct {
	// ID "" keeps the stored user's id, or makes "user-<username>".
	ID string
	// Username is as typed; it is stored in its prepared (PRECIS) form,
	// as sign-up would.
	Username string
	// Password is in clear, hashed on load in its prepared form; ""
	// keeps PasswordHash as given.
	Password     string
	PasswordHash string
	// The profile: see domain.User.
	Name          string
	Email         string
	EmailVerified bool
}

// ProvisionSummary says what a load wrote. The lists name the clients
// added and changed (users are only counted: their names are personal
// data).
type ProvisionSummary struct {
	Scopes, ClientsWritten, ClientsUnchanged, UsersWritten, UsersUnchanged int
	ScopesWritten                                                          int
	ClientsAdded, ClientsChanged                                           []string
	// ClientsSkipped are clients that generate their secret, loaded
	// without a place to keep it.
	ClientsSkipped []string
}

// Changed reports whether the load wrote anything.
func (s ProvisionSummary) Changed() bool {
	return s.ScopesWritten+s.ClientsWritten+s.UsersWritten > 0
}

// BatchSaver saves a load's records in one step.
type BatchSaver interface {
	// SaveBatch saves every record, or none.
	SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error
}

// FixtureHasher hashes the secrets and passwords fixtures carry in clear,
// and tells whether a stored hash already is of one.
type FixtureHasher interface {
	PasswordHasher
	SecretVerifier
	// HashGenerated returns the hash to store of a secret the server
	// generated: a fast one, which its entropy makes safe.
	HashGenerated(secret string) string
}

// SecretKeeper keeps the secrets the server generates for fixture clients
// (FixtureClient.GenerateSecret) where the operator can read them, and
// nowhere else: never in a log.
type SecretKeeper interface {
	// ClientSecret returns the client's generated secret, making and
	// keeping one the first time it is asked for.
	ClientSecret(ctx context.Context, clientID string) (string, error)
}

// ProvisionerDeps are what a Provisioner needs: the current records, read
// to tell what changes, and Batch, which saves the changes.
type ProvisionerDeps struct {
	Clients ClientFinder
	Users   UserFinder
	Scopes  ScopeLister
	Batch   BatchSaver
	Hasher  FixtureHasher
	// Secrets keeps generated secrets; nil skips the clients that ask
	// for one.
	Secrets SecretKeeper
	Text    TextRules
	Now     Clock
}

// Provisioner loads fixtures into the stores. Loading is idempotent:
// records are upserted by id (users by username), a secret in clear that
// still matches the stored hash keeps that hash, and an unchanged record
// is not written at all. It is atomic: every record is built and checked
// first, then all are saved in one step, so a bad record changes nothing.
type Provisioner struct {
	mu sync.Mutex // one load at a time, so each sees the one before
	d  ProvisionerDeps
}

// NewProvisioner returns a Provisioner.
func NewProvisioner(d ProvisionerDeps) *Provisioner { return &Provisioner{d: d} }

// Provision upserts f in one step, or changes nothing and returns why.
// Secrets and passwords in clear are hashed with the slow hash: a person
// typed them.
func (p *Provisioner) Provision(ctx context.Context, f Fixtures) (ProvisionSummary, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var (
		sum     ProvisionSummary
		scopes  []domain.ScopeInfo
		clients []domain.Client
		users   []domain.User
	)
	now := p.d.Now()
	current, err := p.d.Scopes.ListScopes(ctx)
	if err != nil {
		return ProvisionSummary{}, fmt.Errorf("fixtures: scopes: %w", err)
	}
	for _, sc := range f.Scopes {
		if !slices.Contains(current, sc) {
			scopes = append(scopes, sc)
		}
	}
	sum.Scopes, sum.ScopesWritten = len(f.Scopes), len(scopes)
	for _, fc := range f.Clients {
		if fc.GenerateSecret && p.d.Secrets == nil {
			sum.ClientsSkipped = append(sum.ClientsSkipped, fc.Client.ID)
			continue
		}
		c, existed, changed, err := p.client(ctx, fc, now)
		if err != nil {
			return ProvisionSummary{}, err
		}
		switch {
		case !changed:
			sum.ClientsUnchanged++
			continue
		case existed:
			sum.ClientsChanged = append(sum.ClientsChanged, c.ID)
		default:
			sum.ClientsAdded = append(sum.ClientsAdded, c.ID)
		}
		sum.ClientsWritten++
		clients = append(clients, c)
	}
	for _, fu := range f.Users {
		u, changed, err := p.user(ctx, fu, now)
		if err != nil {
			return ProvisionSummary{}, err
		}
		if !changed {
			sum.UsersUnchanged++
			continue
		}
		sum.UsersWritten++
		users = append(users, u)
	}
	if !sum.Changed() {
		return sum, nil
	}
	if err := p.d.Batch.SaveBatch(ctx, scopes, clients, users); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return ProvisionSummary{}, fmt.Errorf("fixtures: a username belongs to another user: %w", err)
		}
		return ProvisionSummary{}, fmt.Errorf("fixtures: saving: %w", err)
	}
	return sum, nil
}

// client builds the client fc describes and checks it; changed is false
// when it equals the stored one.
func (p *Provisioner) client(ctx context.Context, fc FixtureClient, now time.Time) (c domain.Client, exists, changed bool, err error) {
	c = fc.Client
	existing, err := p.d.Clients.FindClient(ctx, c.ID)
	exists = err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return c, false, false, fmt.Errorf("fixtures: client %s: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = now, now
	c.ManagedBy = domain.ManagedByConfig // a client the admin API made becomes the files' if they name it
	if len(c.AuthMethods) == 0 {
		c.AuthMethods = []domain.AuthMethod{domain.ClientSecretBasic, domain.ClientSecretPost}
		if c.Type == domain.Public {
			c.AuthMethods = []domain.AuthMethod{domain.AuthNone}
		}
	}
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = domain.DefaultOrigins(c.RedirectURIs)
	}
	switch {
	case fc.GenerateSecret:
		secret, err := p.d.Secrets.ClientSecret(ctx, c.ID)
		if err != nil {
			return c, exists, false, fmt.Errorf("fixtures: client %s: %w", c.ID, err)
		}
		// The stored hash stays while it is of this secret: a new salt
		// on every load would be a change each time.
		c.SecretHash = existing.SecretHash
		if c.SecretHash == "" {
			c.SecretHash = p.d.Hasher.HashGenerated(secret)
		} else if ok, err := p.d.Hasher.VerifySecret(ctx, c.SecretHash, secret); err != nil || !ok {
			c.SecretHash = p.d.Hasher.HashGenerated(secret)
		}
	case fc.Secret != "":
		if c.SecretHash, err = p.keepOrHash(ctx, existing.SecretHash, fc.Secret); err != nil {
			return c, exists, false, fmt.Errorf("fixtures: client %s: %w", c.ID, err)
		}
	}
	if err := c.Validate(); err != nil {
		return c, exists, false, fmt.Errorf("fixtures: %w", err)
	}
	if exists {
		c.CreatedAt, c.UpdatedAt = existing.CreatedAt, existing.UpdatedAt
		if sameClient(c, existing) {
			return c, true, false, nil
		}
		c.UpdatedAt = now
	}
	return c, exists, true, nil
}

// user builds the user fu describes, by the prepared form of its username
// (so "Alice" in a file is the account "alice") with the prepared form of
// its password hashed, as sign-up would; changed is false when it equals
// the stored one.
func (p *Provisioner) user(ctx context.Context, fu FixtureUser, now time.Time) (domain.User, bool, error) {
	name, err := p.d.Text.Username(fu.Username)
	if err != nil {
		return domain.User{}, false, fmt.Errorf("fixtures: user %q: the username is not a valid PRECIS username: %w", fu.Username, err)
	}
	if len(name) > MaxUsernameBytes {
		return domain.User{}, false, fmt.Errorf("fixtures: user %q: a username has at most %d bytes", fu.Username, MaxUsernameBytes)
	}
	password := fu.Password
	if password != "" {
		if password, err = p.d.Text.Password(password); err != nil {
			return domain.User{}, false, fmt.Errorf("fixtures: user %s: the password has characters not allowed in one: %w", name, err)
		}
	}
	existing, err := p.d.Users.FindUserByUsername(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, false, fmt.Errorf("fixtures: user %s: %w", name, err)
	}
	u := domain.User{ID: fu.ID, Username: name, PasswordHash: fu.PasswordHash,
		Name: fu.Name, Email: fu.Email, EmailVerified: fu.EmailVerified, CreatedAt: now, UpdatedAt: now}
	if err := u.ValidateProfile(); err != nil {
		return domain.User{}, false, fmt.Errorf("fixtures: user %s: %w", name, err)
	}
	if u.ID == "" {
		u.ID = existing.ID
	}
	if u.ID == "" {
		u.ID = "user-" + name
	}
	if password != "" {
		if u.PasswordHash, err = p.keepOrHash(ctx, existing.PasswordHash, password); err != nil {
			return domain.User{}, false, fmt.Errorf("fixtures: user %s: %w", name, err)
		}
	}
	if exists {
		// What administrators set is theirs: a fixture says nothing of it.
		u.Admin, u.Disabled = existing.Admin, existing.Disabled
		u.CreatedAt, u.UpdatedAt = existing.CreatedAt, existing.UpdatedAt
		if u == existing {
			return u, false, nil
		}
		u.UpdatedAt = now
	}
	return u, true, nil
}

// keepOrHash returns current if it already is a hash of plain, else a new
// hash: rehashing would change the record on every load for nothing.
func (p *Provisioner) keepOrHash(ctx context.Context, current, plain string) (string, error) {
	if current != "" {
		if ok, err := p.d.Hasher.VerifySecret(ctx, current, plain); err == nil && ok {
			return current, nil
		}
	}
	return p.d.Hasher.HashPassword(ctx, plain)
}

// sameClient reports whether a and b are the same client, a list left
// out and an empty one alike (a store may return either).
func sameClient(a, b domain.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Type == b.Type && a.SecretHash == b.SecretHash &&
		a.AccessTokenTTL == b.AccessTokenTTL && a.RefreshTokenTTL == b.RefreshTokenTTL &&
		a.Introspection == b.Introspection && a.AllowPlainPKCE == b.AllowPlainPKCE && a.PKCEOptional == b.PKCEOptional &&
		a.RateLimit == b.RateLimit && a.ManagedBy == b.ManagedBy && a.IDTokenAlg == b.IDTokenAlg && sameLists(a, b)
}

func sameLists(a, b domain.Client) bool {
	return slices.Equal(a.AuthMethods, b.AuthMethods) && slices.Equal(a.GrantTypes, b.GrantTypes) &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.DefaultScopes, b.DefaultScopes) && slices.Equal(a.Audience, b.Audience) &&
		slices.Equal(a.AllowedOrigins, b.AllowedOrigins) && slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs)
}
