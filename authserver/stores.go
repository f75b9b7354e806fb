package authserver

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The stores a server keeps its data in, one per data group. An embedder
// may bring its own for any group with WithStores; a group left out is kept
// in memory. Each interface is exactly what the server needs of its group;
// the conformance suite in authserver/storage/storagetest says how each
// must behave, races included, and authserver/storage opens the PostgreSQL
// and Redis ones.
type (
	// ClientStore keeps registered clients and the scopes they may ask
	// for. A store may also implement BatchSaver (fixture loads all or
	// nothing) and OriginIndex (CORS preflights).
	ClientStore interface {
		app.ClientFinder
		// SaveClient creates or replaces c.
		SaveClient(ctx context.Context, c Client) error
		// SaveScope creates or replaces the scope named s.Name.
		SaveScope(ctx context.Context, s ScopeInfo) error
		// ListScopes returns every scope, by name.
		ListScopes(ctx context.Context) ([]ScopeInfo, error)
	}
	// UserStore keeps user accounts.
	UserStore = app.UserStore
	// RefreshTokenStore keeps refresh tokens and their families, and
	// revokes a user's grant to a client, or all of a user's grants.
	RefreshTokenStore interface {
		app.RefreshTokenStore
		app.UserClientRevoker
		app.UserRevoker
	}
	// RevocationStore remembers revoked access tokens until they expire.
	RevocationStore = app.RevocationStore
	// SessionStore keeps sessions: the login page's and the accounts
	// API's.
	SessionStore = app.SessionStore
	// CodeStore keeps authorization codes and runs their redemption.
	CodeStore = app.CodeStore
	// ConsentStore keeps what each user let each client have.
	ConsentStore = app.ConsentStore
	// AttemptLimiter counts password and secret guesses before they are
	// checked.
	AttemptLimiter = app.Limiter
	// RateLimiter keeps the request rate buckets.
	RateLimiter = httpapi.RateLimiter
	// KeyStore keeps the signing keys.
	KeyStore = jwtkeys.Store
	// AuditLog records security events.
	AuditLog = app.AuditLog

	// BatchSaver saves a fixture load in one step, all of it or none. A
	// client store that is also the user store implements it for both.
	BatchSaver interface {
		// SaveBatch saves every record, or none.
		SaveBatch(ctx context.Context, scopes []ScopeInfo, clients []Client, users []User) error
	}
	// OriginIndex answers CORS preflights: whether any client allows a
	// web origin. Without it, preflights are refused; the answers to
	// requests themselves still carry each client's origins.
	OriginIndex = httpapi.OriginChecker
)

// Stores places data groups on stores of the embedder's; nil fields are
// kept in memory. See authserver/storage to place them on PostgreSQL and
// Redis by configuration.
type Stores struct {
	Clients       ClientStore
	Users         UserStore
	RefreshTokens RefreshTokenStore
	Revocations   RevocationStore
	Sessions      SessionStore
	Codes         CodeStore
	Consents      ConsentStore
	Attempts      AttemptLimiter
	Rates         RateLimiter
	Keys          KeyStore
	Audit         AuditLog
	// Batch saves a fixture load (scopes, clients and users) in one step,
	// when clients and users live on one backend; nil, the users are saved
	// first, then the scopes and clients, each in a step of its own if
	// its store is a BatchSaver, else one record at a time.
	Batch BatchSaver
}

// WithStores puts data groups on the given stores. A store may also
// implement Ping(ctx) error, asked by Ready, and Sweep(ctx) error, called
// every minute to drop what expired; the server never closes them: they are
// the embedder's.
func WithStores(st Stores) Option {
	return func(s *settings) error {
		s.stores = st
		return nil
	}
}

// Aliases for the entities a store handles, so that an embedder can write
// one: they are the server's own types.
type (
	// Client is a registered OAuth client.
	Client = domain.Client
	// ScopeInfo names a scope and describes it for the consent page.
	ScopeInfo = domain.ScopeInfo
	// User is a user account.
	User = domain.User
	// RefreshToken is a stored refresh token (its hash, never the token).
	RefreshToken = domain.RefreshToken
	// Session is a signed-in person: a browser's, or the accounts API's.
	Session = domain.Session
	// SessionDoor is how a session was opened.
	SessionDoor = domain.SessionDoor
	// AuthorizationCode is an issued code and its redemption state.
	AuthorizationCode = domain.AuthorizationCode
	// Consent is what a user let a client have.
	Consent = domain.Consent
	// SigningKey is a stored signing key.
	SigningKey = domain.SigningKey
	// AuditEvent is one recorded security event.
	AuditEvent = domain.AuditEvent
)

// The errors a store returns; the server maps them to OAuth answers
// (ErrUnavailable to a fast 503 that the client may retry).
var (
	ErrNotFound    = domain.ErrNotFound
	ErrConflict    = domain.ErrConflict
	ErrUnavailable = domain.ErrUnavailable
	ErrRevoked     = domain.ErrRevoked
	ErrClaimLost   = domain.ErrClaimLost
)

// Pinger is a store that can tell whether its backend answers.
type Pinger interface {
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
}

// Sweeper is a store that drops expired entries when asked.
type Sweeper interface {
	// Sweep deletes what has expired.
	Sweep(ctx context.Context) error
}

// distinct lists each store of st once, for pinging and sweeping: one
// backend often holds several groups.
func (st Stores) distinct() []any {
	var out []any
	for _, x := range []any{st.Clients, st.Users, st.RefreshTokens, st.Revocations, st.Sessions,
		st.Codes, st.Consents, st.Attempts, st.Rates, st.Keys, st.Audit} {
		if x == nil {
			continue
		}
		dup := false
		for _, y := range out {
			if same(x, y) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// same reports whether two stores are one, for comparable values; stores
// are pointers in practice.
func same(a, b any) (eq bool) {
	defer func() { _ = recover() }() // an incomparable value is never the same
	return a == b
}

// ping asks every store that can answer, once each.
func (st Stores) ping(ctx context.Context) error {
	var errs []error
	for _, x := range st.distinct() {
		if p, ok := x.(Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// sweep asks every store that drops expired entries, once each.
func (st Stores) sweep(ctx context.Context) error {
	var errs []error
	for _, x := range st.distinct() {
		if s, ok := x.(Sweeper); ok {
			if err := s.Sweep(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Client types, authentication methods and grant types as a Client record
// names them.
const (
	Confidential      = domain.Confidential
	Public            = domain.Public
	ClientSecretBasic = domain.ClientSecretBasic
	ClientSecretPost  = domain.ClientSecretPost
	AuthNone          = domain.AuthNone
)

// NewScope returns a Client's scope set of the given tokens.
func NewScope(tokens ...string) domain.Scope { return domain.NewScope(tokens...) }

// NewClientSecret makes a random client secret with 256 bits of entropy
// and the hash to store in Client.SecretHash: a salted HMAC, which such a
// secret makes safe and fast to check. The secret is shown to the client's
// owner once; only the hash is kept.
func NewClientSecret() (secret, hash string) { return hashing.NewGeneratedSecret() }

// AuthMethod is how a Client authenticates.
type AuthMethod = domain.AuthMethod
