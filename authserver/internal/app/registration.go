package app

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Dynamic client registration: a client registers itself (RFC 7591) and
// then reads, replaces or deletes its registration with the registration
// access token it got (RFC 7592); a signed-in user registers clients of
// their own on the developer pages (developer.go). All of it is the admin
// use cases' creation, update and deletion, under stricter rules: a
// registered client never gets the password grant, the admin or register
// scope, or a grant the server does not offer; one that nobody vouches for
// (open registration, the developer pages) registers only https or
// loopback redirect URIs and no client_credentials.

// RegistrationMode says who may register at the registration endpoint.
type RegistrationMode string

// The registration modes.
const (
	// RegistrationOff serves no registration endpoint (the default).
	RegistrationOff RegistrationMode = "off"
	// RegistrationToken requires an initial access token (RFC 7591 §3):
	// an access token of this server with the register scope, which the
	// configuration gives to a client (admin-cli in the demo).
	RegistrationToken RegistrationMode = "token"
	// RegistrationOpen lets anyone register, under the rules for clients
	// nobody vouches for; a request with an initial access token gets the
	// token mode's rules.
	RegistrationOpen RegistrationMode = "open"
)

// RegisterScope is the scope of an initial access token. Like the admin
// scope, only the configuration gives it to a client.
const RegisterScope = "register"

// MaxRegisteredRedirectURIs bounds the redirect URIs of a registered
// client: a native app needs one or two, a web app a few.
const MaxRegisteredRedirectURIs = 10

// RegistrationPolicy bounds registration.
type RegistrationPolicy struct {
	Mode RegistrationMode
	// Grants are the grants the server offers: a client registers only
	// those.
	Grants []domain.GrantType
	// MaxClients bounds the clients of the registry: past it,
	// registration is refused (ErrRegistryFull) until some are deleted.
	// Open registration needs this bound whatever its per-source limit
	// (which fails open when its store is down, and which enough
	// addresses get around). 0: no bound.
	MaxClients int
	// PerUser bounds the clients one user registers on the developer
	// pages.
	PerUser int
	// IDTokenAlgs are the algorithms this server signs ID tokens with;
	// none, it is no OpenID Provider, and a registration that sends
	// OpenID Connect metadata is refused.
	IDTokenAlgs []string
}

// DefaultClientsPerUser is RegistrationPolicy.PerUser when none is set.
const DefaultClientsPerUser = 20

// UserByID finds users by id.
type UserByID interface {
	// FindUser returns the user with the given id, or domain.ErrNotFound.
	FindUser(ctx context.Context, id string) (domain.User, error)
}

// RegistrationDeps are what Registration needs.
type RegistrationDeps struct {
	// Admin creates, changes and deletes the clients, with its rules and
	// cascades. Its registry must be set.
	Admin *Admin
	// Owned lists a user's clients (the developer pages).
	Owned OwnedClients
	// Users tells whether a developer's account still exists.
	Users UserByID
	// Secrets checks the client_secret an update may name.
	Secrets SecretVerifier
	Policy  RegistrationPolicy
}

// Registration is dynamic client registration and its management, and
// the developer pages' use cases.
type Registration struct {
	admin  *Admin
	owned  OwnedClients
	users  UserByID
	secret SecretVerifier
	policy RegistrationPolicy
}

// NewRegistration returns Registration.
func NewRegistration(d RegistrationDeps) *Registration {
	if d.Policy.Mode == "" {
		d.Policy.Mode = RegistrationOff
	}
	if d.Policy.PerUser < 1 {
		d.Policy.PerUser = DefaultClientsPerUser
	}
	return &Registration{admin: d.Admin, owned: d.Owned, users: d.Users, secret: d.Secrets, policy: d.Policy}
}

// The refusals of registration.
var (
	// ErrInitialTokenRequired: the mode is token and the request carried
	// no initial access token.
	ErrInitialTokenRequired = errors.New("registration needs an initial access token")
	// ErrNotRegistrar: the access token is good but lacks the register
	// scope (RFC 6750 §3.1).
	ErrNotRegistrar = domain.Errorf(domain.InsufficientScope, "registration needs an access token with the %s scope", RegisterScope)
	// ErrBadRegistrationToken: the registration access token is not the
	// client's, or there is no such client (RFC 7592 §2.1 answers both
	// alike, so the endpoint tells nobody which ids exist).
	ErrBadRegistrationToken = domain.Errorf(domain.InvalidToken, "the registration access token is invalid, or its client no longer exists")
	// ErrRegistryFull: the registry holds Policy.MaxClients clients.
	ErrRegistryFull = domain.Errorf(domain.TemporarilyUnavailable, "the server holds as many clients as it may; registration is closed until some are deleted")
)

// Registrant is who registers at the endpoint: anyone (open registration),
// or the client whose initial access token came with the request.
type Registrant struct {
	// ClientID is the initial access token's client; "" for open
	// registration.
	ClientID string
}

// vouched reports whether an initial access token came with the request.
func (rg Registrant) vouched() bool { return rg.ClientID != "" }

func (rg Registrant) String() string {
	if rg.vouched() {
		return "client " + rg.ClientID + " (initial access token)"
	}
	return "open registration"
}

// AuthorizeRegistrant admits a registration request: with token, the
// bearer of an active access token with the register scope; without, anyone
// if registration is open.
func (r *Registration) AuthorizeRegistrant(ctx context.Context, token string) (Registrant, error) {
	if token == "" {
		if r.policy.Mode == RegistrationOpen {
			return Registrant{}, nil
		}
		return Registrant{}, ErrInitialTokenRequired
	}
	t, err := r.admin.activeToken(ctx, token)
	switch {
	case err != nil:
		return Registrant{}, err
	case !t.Scope.Has(RegisterScope):
		return Registrant{}, ErrNotRegistrar
	}
	return Registrant{ClientID: t.ClientID}, nil
}

// ClientMetadata is RFC 7591 §2's client metadata, as a registration or
// an update (RFC 7592 §2.2) asks for it. A nil list is a member the
// request left out, which takes the default; an empty one was sent empty.
type ClientMetadata struct {
	RedirectURIs  []string
	GrantTypes    []domain.GrantType
	ResponseTypes []string
	// AuthMethod is token_endpoint_auth_method; "" is the default,
	// client_secret_basic. "none" makes a public client.
	AuthMethod domain.AuthMethod
	// Name is client_name; "" names the client by its id.
	Name string
	// Scope is what the client may ask for; nil is every scope the
	// server has but the reserved ones.
	Scope domain.Scope
	// ClientSecret, in an update, must be the client's current secret if
	// the request names it (RFC 7592 §2.2); a client cannot choose its
	// secret.
	ClientSecret string
	// IDTokenAlg and PostLogoutRedirectURIs are OpenID Connect's
	// id_token_signed_response_alg (Dynamic Client Registration §2) and
	// post_logout_redirect_uris (RP-Initiated Logout §3.1).
	IDTokenAlg             string
	PostLogoutRedirectURIs []string
}

// Registered is a registered client and the secrets just made for it,
// each shown this once: the client secret (a confidential client's, at
// registration or when it became confidential) and the registration
// access token (at registration).
type Registered struct {
	Client            domain.Client
	Secret            string
	RegistrationToken string
}

// ResponseTypes are the response types a client registered: those of its
// grants (RFC 7591 §2.1).
func ResponseTypes(c domain.Client) []string {
	out := []string{}
	if c.AllowsGrant(domain.GrantAuthorizationCode) {
		out = append(out, "code")
	}
	if c.AllowsGrant(domain.GrantImplicit) {
		out = append(out, "token")
	}
	return out
}

// Register registers a client as md asks, under the rules for rg: a
// random id, a secret if it is confidential, and a registration access
// token, both returned this once and stored only as hashes.
func (r *Registration) Register(ctx context.Context, rg Registrant, md ClientMetadata) (Registered, error) {
	id := newID()
	out, err := r.register(ctx, id, rg, md)
	r.admin.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientCreated, ClientID: id}, err, "by "+rg.String()))
	return out, err
}

func (r *Registration) register(ctx context.Context, id string, rg Registrant, md ClientMetadata) (Registered, error) {
	if err := r.roomForOne(ctx); err != nil {
		return Registered{}, err
	}
	spec, err := r.specOf(ctx, id, md, rg.vouched(), nil)
	if err != nil {
		return Registered{}, registrationError(err)
	}
	token := newOpaqueToken()
	made, err := r.admin.create(ctx, domain.Client{
		ID: id, ManagedBy: domain.ManagedByRegistration, RegistrationTokenHash: HashToken(token),
	}, spec)
	if err != nil {
		return Registered{}, registrationError(err)
	}
	return Registered{Client: made.Client, Secret: made.Secret, RegistrationToken: token}, nil
}

// roomForOne refuses a registration once the registry is full. The count
// is read before the client is stored, so registrations racing at the
// bound may pass it by as many as race: a bound on memory, not a quota.
func (r *Registration) roomForOne(ctx context.Context) error {
	if r.admin.d.Clients == nil {
		return ErrNotSupported
	}
	if r.policy.MaxClients <= 0 {
		return nil
	}
	_, total, err := r.admin.d.Clients.ListClients(ctx, "", 1)
	if err != nil {
		return err
	}
	if total >= r.policy.MaxClients {
		return ErrRegistryFull
	}
	return nil
}

// Read returns the client that token manages (RFC 7592 §2.1).
func (r *Registration) Read(ctx context.Context, id, token string) (domain.Client, error) {
	return r.managed(ctx, id, token)
}

// Update replaces the client's metadata with md (RFC 7592 §2.2): what md
// leaves out takes its default. It is held to the rules of open
// registration, widened by what the client has already: an update keeps,
// but never adds, a grant or redirect URI that needed an initial access
// token. The registration access token stays the same; a client that
// becomes confidential gets a new secret, returned this once.
func (r *Registration) Update(ctx context.Context, id, token string, md ClientMetadata) (Registered, error) {
	out, err := r.update(ctx, id, token, md)
	r.admin.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientChanged, ClientID: auditID(id)}, err, "by its registration access token"))
	return out, err
}

func (r *Registration) update(ctx context.Context, id, token string, md ClientMetadata) (Registered, error) {
	cur, err := r.managed(ctx, id, token)
	if err != nil {
		return Registered{}, err
	}
	if md.ClientSecret != "" {
		ok := false
		if cur.SecretHash != "" {
			if ok, err = r.secret.VerifySecret(ctx, cur.SecretHash, md.ClientSecret); err != nil {
				return Registered{}, err
			}
		}
		if !ok {
			return Registered{}, domain.FieldErrorf("client_secret", domain.InvalidClientMetadata,
				"client_secret is not the client's secret; leave it out, since a client cannot choose its secret")
		}
	}
	spec, err := r.specOf(ctx, id, md, false, &cur)
	if err != nil {
		return Registered{}, registrationError(err)
	}
	hash := HashToken(token)
	made, err := r.admin.updateClient(ctx, id, spec, func(c *domain.Client) error {
		if !sameHash(c.RegistrationTokenHash, hash) {
			return ErrBadRegistrationToken // deleted and made again? never: ids are not reused
		}
		return nil
	})
	if errors.Is(err, ErrNoSuchClient) {
		return Registered{}, ErrBadRegistrationToken // deleted meanwhile
	}
	if err != nil {
		return Registered{}, registrationError(err)
	}
	return Registered{Client: made.Client, Secret: made.Secret}, nil
}

// Delete deletes the client that token manages, with everything it
// holds (RFC 7592 §2.3): the admin API's cascade. Of concurrent deletions,
// one succeeds; the others find the token invalid, as it now is.
func (r *Registration) Delete(ctx context.Context, id, token string) error {
	err := r.delete(ctx, id, token)
	r.admin.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientDeleted, ClientID: auditID(id)}, err, "by its registration access token"))
	return err
}

func (r *Registration) delete(ctx context.Context, id, token string) error {
	if _, err := r.managed(ctx, id, token); err != nil {
		return err
	}
	if err := r.admin.ends.end(ctx, id); errors.Is(err, domain.ErrNotFound) {
		return ErrBadRegistrationToken // another request deleted it first
	} else if err != nil {
		return err
	}
	return nil
}

// maxRegistrationToken bounds what is hashed of a presented token: ours
// are 43 characters.
const maxRegistrationToken = 256

// managed returns the client with the given id if token is its
// registration access token, compared in constant time; else
// ErrBadRegistrationToken, whether or not the client exists.
func (r *Registration) managed(ctx context.Context, id, token string) (domain.Client, error) {
	if r.admin.d.Clients == nil {
		return domain.Client{}, ErrNotSupported
	}
	if token == "" || len(token) > maxRegistrationToken || !clientIDPattern.MatchString(id) {
		return domain.Client{}, ErrBadRegistrationToken
	}
	c, err := r.admin.d.Clients.FindClient(ctx, id)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return domain.Client{}, ErrBadRegistrationToken
	case err != nil:
		return domain.Client{}, err
	case c.RegistrationTokenHash == "" || !sameHash(c.RegistrationTokenHash, HashToken(token)):
		return domain.Client{}, ErrBadRegistrationToken
	}
	return c, nil
}

func sameHash(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
