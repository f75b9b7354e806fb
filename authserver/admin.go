package authserver

import (
	"context"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Management from Go: the admin API's use cases (/api/admin), called by
// the program holding the server, as the operator. The rules, the
// cascades and the errors are the API's and the CLI's:
//
//	made, err := srv.Clients().Create(ctx, authserver.NewClient{ID: "reports", ClientSpec: authserver.ClientSpec{
//		Name: "Reports", Type: authserver.Confidential, GrantTypes: []authserver.Grant{authserver.GrantClientCredentials},
//		Scopes: []string{"current_time"},
//	}})
//	// made.Secret is shown this once; only its hash is stored.

// ClientSpec is what a client is: all a creation sets and an update
// replaces. Redirect URIs are matched exactly, https unless loopback;
// every client uses PKCE; a public client has no secret and no
// client_credentials; the admin scope is the configuration's to give.
type ClientSpec struct {
	Name         string
	Type         ClientType
	RedirectURIs []string
	GrantTypes   []Grant
	// Scopes are what the client may ask for, and what it gets when it
	// names none; each must be a scope the server knows.
	Scopes []string
}

// NewClient is a client to create: its id ("" makes a random one) and
// what it is.
type NewClient struct {
	ID string
	ClientSpec
}

// ClientType is confidential or public (RFC 6749 §2.1).
type ClientType = domain.ClientType

// The management calls' requests and answers.
type (
	// CreatedClient is a client just made or changed, and its secret if
	// one was made (shown this once, stored only as a hash).
	CreatedClient = app.CreatedClient
	// Page asks for one page of a list: at most Limit entries (0: 20, at
	// most 100), after the Cursor of the page before.
	Page = app.Page
	// ClientPage is one page of the clients, by id: the total, and the
	// cursor of the next page ("" on the last).
	ClientPage = app.ClientPage
	// UserPage is one page of the users, as ClientPage.
	UserPage = app.UserPage
	// NewUser is an account to make, under sign-up's rules.
	NewUser = app.NewUser
	// Profile is what OpenID Connect shares of a user: name and email.
	Profile = app.Profile
	// UserChange is what to change of a user; nil fields stay as they are.
	UserChange = app.UserChange
	// FieldError is a refused input; Field names it ("redirect_uris",
	// "password", ...), errors.As finds it.
	FieldError = domain.FieldError
	// PartialChange is a user changed (a new password, disabled) whose
	// sessions and tokens could not all be ended (an outage): the same
	// call again finishes it.
	PartialChange = app.PartialChange
)

// The errors of the management calls, the same values the admin API
// answers with 404, 409 and 501.
var (
	ErrNoSuchClient  = app.ErrNoSuchClient  // also ErrNotFound
	ErrNoSuchUser    = app.ErrNoSuchUser    // also ErrNotFound
	ErrClientIDTaken = app.ErrClientIDTaken // a client has, or had, that id
	ErrConfigManaged = app.ErrConfigManaged // a fixture's client: change the files
	ErrUsernameTaken = app.ErrUsernameTaken
	// ErrNotSupported: the stores given to WithStores cannot list, create
	// atomically or delete for good (see authserver/storage/storagetest).
	ErrNotSupported = app.ErrNotSupported
)

// Clients manages the server's clients.
type Clients struct{ admin *app.Admin }

// Users manages the server's user accounts.
type Users struct{ admin *app.Admin }

// Clients returns the management of clients.
func (srv *Server) Clients() *Clients { return &Clients{admin: srv.admin} }

// Users returns the management of users.
func (srv *Server) Users() *Users { return &Users{admin: srv.admin} }

// operator is who calls from Go, in the audit trail.
var operator = app.Administrator{}

func (s ClientSpec) app() app.ClientSpec {
	return app.ClientSpec{Name: s.Name, Type: s.Type, RedirectURIs: s.RedirectURIs, GrantTypes: s.GrantTypes, Scopes: domain.NewScope(s.Scopes...)}
}

// List returns one page of the clients, by id.
func (c *Clients) List(ctx context.Context, p Page) (ClientPage, error) {
	return c.admin.ListClients(ctx, p)
}

// Get returns the client with the given id, or ErrNoSuchClient.
func (c *Clients) Get(ctx context.Context, id string) (Client, error) { return c.admin.Client(ctx, id) }

// Create registers a client; a confidential one's secret is in the
// answer, this once. ErrClientIDTaken if a client has or had the id.
func (c *Clients) Create(ctx context.Context, nc NewClient) (CreatedClient, error) {
	return c.admin.CreateClient(ctx, operator, nc.ID, nc.app())
}

// Update replaces what spec describes of a client made by these calls
// (ErrConfigManaged for a fixture's); one that becomes confidential gets
// a new secret, in the answer.
func (c *Clients) Update(ctx context.Context, id string, spec ClientSpec) (CreatedClient, error) {
	return c.admin.UpdateClient(ctx, operator, id, spec.app())
}

// Delete deletes a client made by these calls with everything it holds:
// its access tokens are inactive at once, its refresh tokens, codes and
// consents revoked, and its id is never a client's again.
func (c *Clients) Delete(ctx context.Context, id string) error {
	return c.admin.DeleteClient(ctx, operator, id)
}

// List returns one page of the users, by id.
func (u *Users) List(ctx context.Context, p Page) (UserPage, error) { return u.admin.ListUsers(ctx, p) }

// Get returns the user with the given id, or ErrNoSuchUser.
func (u *Users) Get(ctx context.Context, id string) (User, error) { return u.admin.User(ctx, id) }

// Create makes an account under sign-up's rules (the name in its PRECIS
// form, the password policy); ErrUsernameTaken if the name is another's.
func (u *Users) Create(ctx context.Context, nu NewUser) (User, error) {
	return u.admin.CreateUser(ctx, operator, nu)
}

// Update changes a user's admin role, disabled flag or password; a new
// password, or disabling, ends every session, grant and token of the
// user, as a password change does.
func (u *Users) Update(ctx context.Context, id string, ch UserChange) (User, error) {
	return u.admin.UpdateUser(ctx, operator, id, ch)
}

// SetPassword gives a user a new password, and ends everything the old
// one let anyone have.
func (u *Users) SetPassword(ctx context.Context, id, password string) error {
	_, err := u.admin.UpdateUser(ctx, operator, id, UserChange{Password: &password})
	return err
}

// Delete closes an account with everything it holds, as its owner's own
// closing does.
func (u *Users) Delete(ctx context.Context, id string) error {
	return u.admin.DeleteUser(ctx, operator, id)
}
