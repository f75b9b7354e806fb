package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The administration of clients. A client made here is the admin use
// cases' (ManagedBy admin); one of the fixture files stays the files'
// (ErrConfigManaged), so that a reload never undoes an administrator's
// change, nor an administrator the operator's files.

// ClientSpec is what an administrator says of a client: all a creation
// sets, and all an update replaces.
type ClientSpec struct {
	Name         string
	Type         domain.ClientType
	RedirectURIs []string
	GrantTypes   []domain.GrantType
	// Scopes are what the client may ask for, and what it gets when it
	// names none.
	Scopes domain.Scope
	// AuthMethod, if set, is the one way a confidential client
	// authenticates (RFC 7591's token_endpoint_auth_method); unset, it may
	// use either secret method. A public client's is always "none".
	AuthMethod domain.AuthMethod
	// OpenID, if set, replaces the client's OpenID Connect metadata; nil
	// leaves it as it is (the admin API does not manage it).
	OpenID *OpenIDSpec
}

// OpenIDSpec is a client's OpenID Connect metadata (OpenID Connect
// Dynamic Client Registration §2, RP-Initiated Logout §3.1).
type OpenIDSpec struct {
	// IDTokenAlg is id_token_signed_response_alg; "" is the default.
	IDTokenAlg             string
	PostLogoutRedirectURIs []string
}

// The names of a client's inputs, as their errors' Field.
const (
	FieldID           = "id"
	FieldName         = "name"
	FieldType         = "type"
	FieldRedirectURIs = "redirect_uris"
	FieldGrantTypes   = "grant_types"
	FieldScopes       = "scopes"
	FieldAuthMethod   = "token_endpoint_auth_method"
	FieldIDTokenAlg   = "id_token_signed_response_alg"
	FieldPostLogout   = "post_logout_redirect_uris"
)

// clientIDPattern is the fixtures' rule for a client id: URL-safe
// characters, 1 to 128 of them.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// maxClientName bounds a client's name, which the consent page shows.
const maxClientName = 200

var knownGrants = []domain.GrantType{
	domain.GrantAuthorizationCode, domain.GrantImplicit, domain.GrantPassword, domain.GrantClientCredentials, domain.GrantRefreshToken,
}

// CreatedClient is a client just made or changed, and its secret when one
// was made: shown this once, stored only as a hash.
type CreatedClient struct {
	Client domain.Client
	Secret string
}

// ClientPage is one page of the clients, by id.
type ClientPage struct {
	Clients []domain.Client
	// Total counts every client; Next is the cursor of the next page, ""
	// on the last.
	Total int
	Next  string
}

// ListClients returns one page of the clients, by id.
func (a *Admin) ListClients(ctx context.Context, p Page) (ClientPage, error) {
	if a.d.Clients == nil {
		return ClientPage{}, ErrNotSupported
	}
	list, total, next, err := listPage(ctx, p, a.d.Clients.ListClients, func(c domain.Client) string { return c.ID })
	return ClientPage{Clients: list, Total: total, Next: next}, err
}

// Client returns the client with the given id, or ErrNoSuchClient.
func (a *Admin) Client(ctx context.Context, id string) (domain.Client, error) {
	if a.d.Clients == nil {
		return domain.Client{}, ErrNotSupported
	}
	if !clientIDPattern.MatchString(id) {
		return domain.Client{}, ErrNoSuchClient
	}
	c, err := a.d.Clients.FindClient(ctx, id)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Client{}, ErrNoSuchClient
	}
	return c, err
}

// CreateClient registers a client under id ("" makes a random one) as
// spec says, under the rules fixtures follow: exact redirect URIs, https
// but for loopback, PKCE for every client, no client_credentials for a
// public one. A confidential client gets a generated secret, returned
// this once. Of concurrent creations of one id, one succeeds; the others,
// and any creation of an id a client has or had, are ErrClientIDTaken.
func (a *Admin) CreateClient(ctx context.Context, by Administrator, id string, spec ClientSpec) (CreatedClient, error) {
	if a.d.Clients == nil {
		return CreatedClient{}, ErrNotSupported
	}
	if id == "" {
		id = newID()
	}
	out, err := a.createClient(ctx, id, spec)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientCreated, ClientID: auditID(id)}, err, "by "+by.String()))
	return out, err
}

func (a *Admin) createClient(ctx context.Context, id string, spec ClientSpec) (CreatedClient, error) {
	return a.create(ctx, domain.Client{ID: id, ManagedBy: domain.ManagedByAdmin}, spec)
}

// create stores c, which says who keeps it (and its id, owner or
// registration token), made as spec says under the rules of
// CreateClient.
func (a *Admin) create(ctx context.Context, c domain.Client, spec ClientSpec) (CreatedClient, error) {
	if !clientIDPattern.MatchString(c.ID) {
		return CreatedClient{}, domain.FieldErrorf(FieldID, domain.InvalidRequest, "a client id is 1 to 128 letters, digits and ._~-")
	}
	now := a.d.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	secret, err := a.apply(ctx, &c, spec)
	if err != nil {
		return CreatedClient{}, err
	}
	if err := a.d.Clients.CreateClient(ctx, c); errors.Is(err, domain.ErrConflict) {
		return CreatedClient{}, ErrClientIDTaken
	} else if err != nil {
		return CreatedClient{}, err
	}
	return CreatedClient{Client: c, Secret: secret}, nil
}

// UpdateClient replaces what spec describes of the client, in one atomic
// step, under the rules of CreateClient. A client that becomes
// confidential gets a new secret, returned this once; one that becomes
// public loses its secret. Tokens already issued stay as they are.
func (a *Admin) UpdateClient(ctx context.Context, by Administrator, id string, spec ClientSpec) (CreatedClient, error) {
	if a.d.Clients == nil {
		return CreatedClient{}, ErrNotSupported
	}
	out, err := a.updateClient(ctx, id, spec, func(c *domain.Client) error {
		if c.ConfigManaged() {
			return ErrConfigManaged
		}
		return nil
	})
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientChanged, ClientID: auditID(id)}, err, "by "+by.String()))
	return out, err
}

// updateClient applies spec to the client in one atomic step, if may,
// run on the stored record in that step, lets it.
func (a *Admin) updateClient(ctx context.Context, id string, spec ClientSpec, may func(c *domain.Client) error) (CreatedClient, error) {
	if !clientIDPattern.MatchString(id) {
		return CreatedClient{}, ErrNoSuchClient
	}
	// Known scopes are read before the store's atomic step, which runs
	// nothing slow.
	known, err := a.knownScopes(ctx)
	if err != nil {
		return CreatedClient{}, err
	}
	var out CreatedClient
	err = a.d.Clients.UpdateClient(ctx, id, func(c *domain.Client) error {
		if err := may(c); err != nil {
			return err
		}
		secret, err := a.applyKnown(c, spec, known)
		if err != nil {
			return err
		}
		c.UpdatedAt = a.d.Now()
		out = CreatedClient{Client: *c, Secret: secret}
		return nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return CreatedClient{}, ErrNoSuchClient
	}
	if err != nil {
		return CreatedClient{}, err
	}
	return out, nil
}

// DeleteClient deletes a client and everything it holds (clientEnds):
// its tokens, codes, refresh tokens and consents. Its id is never a
// client's again. Of concurrent deletions, one succeeds; the others find
// no client.
func (a *Admin) DeleteClient(ctx context.Context, by Administrator, id string) error {
	if a.d.Clients == nil {
		return ErrNotSupported
	}
	err := a.deleteClient(ctx, id)
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientDeleted, ClientID: auditID(id)}, err, "by "+by.String()))
	return err
}

func (a *Admin) deleteClient(ctx context.Context, id string) error {
	c, err := a.Client(ctx, id)
	if err != nil {
		return err
	}
	if c.ConfigManaged() {
		return ErrConfigManaged
	}
	if err := a.ends.end(ctx, id); errors.Is(err, domain.ErrNotFound) {
		return ErrNoSuchClient // another request deleted it first
	} else if err != nil {
		return err
	}
	return nil
}

// apply sets spec on c, checked, and returns a new secret if c needs one.
func (a *Admin) apply(ctx context.Context, c *domain.Client, spec ClientSpec) (string, error) {
	known, err := a.knownScopes(ctx)
	if err != nil {
		return "", err
	}
	return a.applyKnown(c, spec, known)
}

func (a *Admin) knownScopes(ctx context.Context) (domain.Scope, error) {
	list, err := a.d.Scopes.ListScopes(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	return domain.NewScope(names...), nil
}

// applyKnown is apply with the server's scopes known. Secrets follow the
// type: a confidential client keeps its secret, or gets one; a public one
// has none.
func (a *Admin) applyKnown(c *domain.Client, spec ClientSpec, known domain.Scope) (string, error) {
	if err := checkSpec(spec, known); err != nil {
		return "", err
	}
	c.Name, c.Type = spec.Name, spec.Type
	c.RedirectURIs = slices.Clone(spec.RedirectURIs)
	c.GrantTypes = slices.Clone(spec.GrantTypes)
	c.Scopes, c.DefaultScopes = domain.NewScope(spec.Scopes...), domain.NewScope(spec.Scopes...)
	c.AllowedOrigins = domain.DefaultOrigins(c.RedirectURIs)
	c.PKCEOptional, c.AllowPlainPKCE = false, false
	if o := spec.OpenID; o != nil {
		c.IDTokenAlg, c.PostLogoutRedirectURIs = o.IDTokenAlg, slices.Clone(o.PostLogoutRedirectURIs)
	}
	secret := ""
	switch c.Type {
	case domain.Public:
		c.SecretHash = ""
		c.AuthMethods = []domain.AuthMethod{domain.AuthNone}
	case domain.Confidential:
		if c.SecretHash == "" {
			secret, c.SecretHash = a.d.NewSecret()
		}
		c.AuthMethods = []domain.AuthMethod{domain.ClientSecretBasic, domain.ClientSecretPost}
		if spec.AuthMethod != "" {
			c.AuthMethods = []domain.AuthMethod{spec.AuthMethod}
		}
	}
	if err := c.Validate(); err != nil {
		// checkSpec names the field of every rule it knows; this is what
		// it does not.
		return "", domain.Errorf(domain.InvalidRequest, "%s", err.Error())
	}
	return secret, nil
}

// checkSpec checks spec field by field, naming the field at fault.
func checkSpec(spec ClientSpec, known domain.Scope) error {
	if spec.Name == "" || utf8.RuneCountInString(spec.Name) > maxClientName {
		return domain.FieldErrorf(FieldName, domain.InvalidRequest, "a name is 1 to %d characters", maxClientName)
	}
	if spec.Type != domain.Confidential && spec.Type != domain.Public {
		return domain.FieldErrorf(FieldType, domain.InvalidRequest, `type is "confidential" or "public"`)
	}
	switch m := spec.AuthMethod; {
	case m == "":
	case spec.Type == domain.Public && m != domain.AuthNone:
		return domain.FieldErrorf(FieldAuthMethod, domain.InvalidRequest, `a public client authenticates with "none"`)
	case spec.Type == domain.Confidential && m != domain.ClientSecretBasic && m != domain.ClientSecretPost:
		return domain.FieldErrorf(FieldAuthMethod, domain.InvalidRequest, `a confidential client authenticates with "client_secret_basic" or "client_secret_post"`)
	}
	for _, g := range spec.GrantTypes {
		if !slices.Contains(knownGrants, g) {
			return domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest, "unknown grant type %q", g)
		}
	}
	if spec.Type == domain.Public && slices.Contains(spec.GrantTypes, domain.GrantClientCredentials) {
		return domain.FieldErrorf(FieldGrantTypes, domain.InvalidRequest, "client_credentials is for confidential clients only")
	}
	for _, u := range spec.RedirectURIs {
		if err := domain.ValidateRedirectURI(u); err != nil {
			return domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "%s", err.Error())
		}
	}
	if o := spec.OpenID; o != nil {
		for _, u := range o.PostLogoutRedirectURIs {
			if err := domain.ValidateRedirectURI(u); err != nil {
				return domain.FieldErrorf(FieldPostLogout, domain.InvalidRequest, "%s", err.Error())
			}
		}
		if o.IDTokenAlg != "" && !slices.Contains(domain.IDTokenAlgs, o.IDTokenAlg) {
			return domain.FieldErrorf(FieldIDTokenAlg, domain.InvalidRequest, "%q is not one of %v", o.IDTokenAlg, domain.IDTokenAlgs)
		}
	}
	redirects := slices.Contains(spec.GrantTypes, domain.GrantAuthorizationCode) || slices.Contains(spec.GrantTypes, domain.GrantImplicit)
	if redirects && len(spec.RedirectURIs) == 0 {
		return domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "authorization_code and implicit need at least one redirect URI")
	}
	for _, reserved := range []string{AdminScope, RegisterScope} {
		if spec.Scopes.Has(reserved) {
			return domain.FieldErrorf(FieldScopes, domain.InvalidScope, "the %s scope is given by the configuration only", reserved)
		}
	}
	if missing := known.Missing(spec.Scopes); len(missing) > 0 {
		return domain.FieldErrorf(FieldScopes, domain.InvalidScope, "unknown scope %q", missing.String())
	}
	return nil
}

// auditID is a client id as the audit trail records it: one that cannot
// be a client's is cut, so a request cannot write kilobytes into it.
func auditID(id string) string {
	if len(id) > MaxClientIDBytes {
		return fmt.Sprintf("%.*s…", MaxClientIDBytes, id)
	}
	return id
}
