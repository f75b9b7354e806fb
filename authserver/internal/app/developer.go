package app

import (
	"context"
	"errors"
	"slices"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The developer pages: a signed-in user registers clients of their own,
// lists them and deletes them. The user is recorded as the client's
// owner; nobody else sees or deletes it (but an administrator), and
// closing the account deletes it (Accounts.DeleteAccount). Such a client
// is held to open registration's rules: https or loopback redirect URIs,
// the authorization code grant with refresh tokens, PKCE.

// OwnClient is what a developer says of a client on the pages.
type OwnClient struct {
	Name         string
	Type         domain.ClientType
	RedirectURIs []string
}

// ErrTooManyOwnClients refuses a client past Policy.PerUser clients of
// the user's.
var ErrTooManyOwnClients = domain.Errorf(domain.InvalidRequest, "you have as many clients as one account may have: delete one first")

// OwnClients returns the clients userID registered, by id.
func (r *Registration) OwnClients(ctx context.Context, userID string) ([]domain.Client, error) {
	if r.owned == nil {
		return nil, ErrNotSupported
	}
	return r.owned.ListOwnedClients(ctx, userID, max(r.policy.PerUser, 1))
}

// RegisterOwn registers a client owned by userID, a signed-in user, and
// returns it with its secret if it is confidential, shown this once.
//
// Once the client is stored, the account is read again: if it was closed
// meanwhile, the client is deleted and ErrNoSession returned. With the
// closing account's own second pass over its clients (closeAccount), no
// client outlives its owner's account.
func (r *Registration) RegisterOwn(ctx context.Context, userID string, oc OwnClient) (CreatedClient, error) {
	id := newID()
	out, err := r.registerOwn(ctx, id, userID, oc)
	r.admin.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientCreated, ClientID: id, UserID: userID}, err, "by its owner"))
	return out, err
}

func (r *Registration) registerOwn(ctx context.Context, id, userID string, oc OwnClient) (CreatedClient, error) {
	if r.owned == nil {
		return CreatedClient{}, ErrNotSupported
	}
	if err := r.roomForOne(ctx); err != nil {
		return CreatedClient{}, err
	}
	// A soft bound, like roomForOne's: creations racing at it may pass it
	// by as many as race, and the per-source limits bound those.
	mine, err := r.owned.ListOwnedClients(ctx, userID, max(r.policy.PerUser, 1))
	if err != nil {
		return CreatedClient{}, err
	}
	if len(mine) >= r.policy.PerUser {
		return CreatedClient{}, ErrTooManyOwnClients
	}
	if len(oc.RedirectURIs) > MaxRegisteredRedirectURIs {
		return CreatedClient{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "at most %d redirect URIs", MaxRegisteredRedirectURIs)
	}
	for _, u := range oc.RedirectURIs {
		if err := domain.ValidateWebRedirectURI(u); err != nil {
			return CreatedClient{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "%s", err.Error())
		}
	}
	if len(oc.RedirectURIs) == 0 {
		return CreatedClient{}, domain.FieldErrorf(FieldRedirectURIs, domain.InvalidRequest, "a client needs at least one redirect URI")
	}
	if !slices.Contains(r.policy.Grants, domain.GrantAuthorizationCode) {
		return CreatedClient{}, domain.Errorf(domain.InvalidRequest, "this server offers no authorization code grant for a client to use")
	}
	grants := []domain.GrantType{domain.GrantAuthorizationCode}
	if slices.Contains(r.policy.Grants, domain.GrantRefreshToken) {
		grants = append(grants, domain.GrantRefreshToken)
	}
	scope, err := r.defaultScope(ctx)
	if err != nil {
		return CreatedClient{}, err
	}
	made, err := r.admin.create(ctx, domain.Client{ID: id, ManagedBy: domain.ManagedByRegistration, Owner: userID}, ClientSpec{
		Name: oc.Name, Type: oc.Type, RedirectURIs: oc.RedirectURIs, GrantTypes: grants, Scopes: scope,
	})
	if err != nil {
		return CreatedClient{}, err
	}
	if _, err := r.users.FindUser(ctx, userID); errors.Is(err, domain.ErrNotFound) {
		if err := r.admin.ends.end(ctx, id); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return CreatedClient{}, err
		}
		return CreatedClient{}, ErrNoSession
	} else if err != nil {
		return CreatedClient{}, err
	}
	return made, nil
}

// DeleteOwn deletes a client userID registered, with everything it holds;
// another's client, or none, is ErrNoSuchClient.
func (r *Registration) DeleteOwn(ctx context.Context, userID, clientID string) error {
	err := r.deleteOwn(ctx, userID, clientID)
	r.admin.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientDeleted, ClientID: auditID(clientID), UserID: userID}, err, "by its owner"))
	return err
}

func (r *Registration) deleteOwn(ctx context.Context, userID, clientID string) error {
	c, err := r.admin.Client(ctx, clientID)
	if err != nil {
		return err
	}
	if c.Owner == "" || c.Owner != userID {
		return ErrNoSuchClient // another's is not to be told from none
	}
	if err := r.admin.ends.end(ctx, clientID); errors.Is(err, domain.ErrNotFound) {
		return ErrNoSuchClient
	} else if err != nil {
		return err
	}
	return nil
}
