package app

import (
	"context"

	"github.com/oauth2ref/authserver/internal/domain"
)

// The stores the admin use cases need, besides those of the accounts.

// ClientRegistry keeps clients for their administration: each created
// once, changed in one atomic step, deleted for good, and listed a page at
// a time.
type ClientRegistry interface {
	ClientFinder
	// CreateClient stores a new client; domain.ErrConflict if its id is
	// taken or was ever a deleted client's. Of concurrent creations of one
	// id, exactly one succeeds.
	CreateClient(ctx context.Context, c domain.Client) error
	// UpdateClient runs update on the client with the given id, as one
	// atomic step: if update returns nil, what it left in c is saved (an
	// id it changed is ignored); if it returns an error, nothing changes
	// and UpdateClient returns it. domain.ErrNotFound if there is no such
	// client.
	UpdateClient(ctx context.Context, id string, update func(c *domain.Client) error) error
	// DeleteClient deletes the client with the given id and keeps the id
	// from ever being created again; domain.ErrNotFound if there is none
	// (of concurrent deletions, one succeeds).
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns up to limit clients whose ids sort after after
	// (byte order; "" for the first page), in that order, and how many
	// clients there are in all.
	ListClients(ctx context.Context, after string, limit int) ([]domain.Client, int, error)
}

// UserDirectory lists users a page at a time.
type UserDirectory interface {
	// ListUsers returns up to limit users whose ids sort after after
	// (byte order; "" for the first page), in that order, and how many
	// users there are in all.
	ListUsers(ctx context.Context, after string, limit int) ([]domain.User, int, error)
}

// ClientRevoker revokes, at the refresh token store, every refresh token
// family a client holds, whoever the user.
type ClientRevoker interface {
	// RevokeClientTokens revokes every family of the client.
	RevokeClientTokens(ctx context.Context, clientID string) error
}

// ClientConsentDeleter deletes what every user let one client have.
type ClientConsentDeleter interface {
	// DeleteClientConsents deletes every user's consent to the client; a
	// client without any is not an error.
	DeleteClientConsents(ctx context.Context, clientID string) error
}

// OwnedClients finds the clients a user registered on the developer
// pages (Client.Owner).
type OwnedClients interface {
	// ListOwnedClients returns up to limit of the clients whose owner is
	// owner, by id; none for owner "".
	ListOwnedClients(ctx context.Context, owner string, limit int) ([]domain.Client, error)
}
