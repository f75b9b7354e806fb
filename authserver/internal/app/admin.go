package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Administration: clients and users managed by whoever may — a client
// holding an access token with the admin scope, or a signed-in user whose
// account is an administrator's — through the admin API, the CLI or the
// library's calls, which are all this one set of use cases.

// AdminScope is the scope that lets an access token administer the server.
// Only the configuration gives it to a client (admin-cli in the demo): the
// admin use cases refuse it, so no administrator can mint another.
const AdminScope = "admin"

// Administrator is who administers: a client with an admin token, a
// signed-in admin user, or, both empty, the operator (the CLI, or the
// program embedding the server).
type Administrator struct {
	ClientID string
	UserID   string
}

// String names the administrator in the audit trail.
func (ad Administrator) String() string {
	switch {
	case ad.ClientID != "":
		return "client " + ad.ClientID
	case ad.UserID != "":
		return "user " + ad.UserID
	}
	return "operator"
}

// AdminDeps are what Admin needs.
type AdminDeps struct {
	// Clients and Users are the registry and the directory the use cases
	// manage; nil, the store cannot, and those calls are ErrNotSupported.
	Clients ClientRegistry
	Users   UserDirectory
	Scopes  ScopeLister
	// Accounts make users, reset passwords and close accounts with the
	// cascades they have for their owners.
	Accounts *Accounts
	// What a deleted client held: its families (Refresh), the consents
	// given to it (Consents), its access tokens and codes (Revocations).
	Refresh     ClientRevoker
	Consents    ClientConsentDeleter
	Revocations RevocationStore
	// Tokens verifies access tokens presented to the admin API.
	Tokens AccessTokenVerifier
	// NewSecret makes a confidential client's secret and the hash to
	// store (the fast scheme of generated secrets).
	NewSecret func() (secret, hash string)
	// MaxAccessTTL is the longest an access token lives.
	MaxAccessTTL time.Duration
	Now          Clock
	Audit        AuditLog // may be nil
}

// Admin is the administration use cases.
type Admin struct {
	d     AdminDeps
	ends  clientEnds
	audit auditor
}

// NewAdmin returns Admin.
func NewAdmin(d AdminDeps) *Admin {
	return &Admin{
		d: d,
		ends: clientEnds{
			clients: d.Clients, refresh: d.Refresh, consents: d.Consents, revocations: d.Revocations,
			maxTTL: d.MaxAccessTTL, now: d.Now,
		},
		audit: auditor{log: d.Audit, now: d.Now},
	}
}

// The refusals of administration.
var (
	// ErrNotAdmin: the caller authenticated, but holds neither the admin
	// scope nor an administrator's account (RFC 6750 §3.1).
	ErrNotAdmin = domain.Errorf(domain.InsufficientScope, "this needs an access token with the admin scope, or a signed-in administrator")
	// ErrBadAdminToken: the access token is not one of this server's, or
	// has expired or been revoked.
	ErrBadAdminToken = domain.Errorf(domain.InvalidToken, "the access token is invalid, expired or revoked")
	// ErrNotSupported: the store of this data cannot be administered (an
	// embedder's own, without the registry's calls).
	ErrNotSupported = errors.New("this server's store cannot do that")
	// ErrConfigManaged: the client is the fixture files'; change it there.
	ErrConfigManaged = domain.FieldErrorf(FieldID, domain.InvalidRequest,
		"this client is managed by the configuration (fixture files): change it there")
	// ErrClientIDTaken: a client has, or had, that id.
	ErrClientIDTaken = domain.FieldErrorf(FieldID, domain.InvalidRequest, "a client with this id exists, or existed and was deleted")
	// ErrNoSuchClient and ErrNoSuchUser: nothing by that id.
	ErrNoSuchClient = fmt.Errorf("no such client: %w", domain.ErrNotFound)
	ErrNoSuchUser   = fmt.Errorf("no such user: %w", domain.ErrNotFound)
)

// AuthorizeToken admits the bearer of an access token with the admin
// scope: active (signed by this server, not expired, not revoked, its
// client not deleted), as introspection judges it.
func (a *Admin) AuthorizeToken(ctx context.Context, token string) (Administrator, error) {
	t, err := a.activeToken(ctx, token)
	switch {
	case err != nil:
		return Administrator{}, err
	case !t.Scope.Has(AdminScope):
		return Administrator{}, ErrNotAdmin
	}
	ad := Administrator{ClientID: t.ClientID}
	if t.Subject != t.ClientID {
		ad.UserID = t.Subject
	}
	return ad, nil
}

// activeToken returns the claims of an access token that is active, as
// introspection judges it; ErrBadAdminToken if it is not.
func (a *Admin) activeToken(ctx context.Context, token string) (domain.AccessToken, error) {
	t, err := a.d.Tokens.VerifyAccessToken(ctx, token)
	if errors.Is(err, domain.ErrUnavailable) {
		return domain.AccessToken{}, err
	}
	if err != nil || t.Expired(a.d.Now()) {
		return domain.AccessToken{}, ErrBadAdminToken
	}
	revoked, err := a.d.Revocations.Revoked(ctx, t.IssuedAt, revocationIDs(t)...)
	switch {
	case err != nil:
		return domain.AccessToken{}, err
	case revoked:
		return domain.AccessToken{}, ErrBadAdminToken
	}
	return t, nil
}

// AuthorizeSession admits a signed-in user whose account is an
// administrator's, read now: an account that lost the role, or was
// disabled, is refused at once.
func (a *Admin) AuthorizeSession(ctx context.Context, s domain.Session) (Administrator, error) {
	u, err := a.d.Accounts.users.FindUser(ctx, s.UserID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return Administrator{}, ErrNoSession
	case err != nil:
		return Administrator{}, err
	case !u.Admin || u.Disabled:
		return Administrator{}, ErrNotAdmin
	}
	return Administrator{UserID: u.ID}, nil
}

// Paging.

// The bounds of a page: how many entries a list answers at most, and
// when the request names no limit.
const (
	MaxPageSize     = 100
	DefaultPageSize = 20
)

// Page asks for one page of a list: at most Limit entries (0: the
// default), after the Cursor of the page before ("" for the first).
type Page struct {
	Limit  int
	Cursor string
}

// FieldLimit and FieldCursor name a page's inputs in errors.
const (
	FieldLimit  = "limit"
	FieldCursor = "cursor"
)

// after checks p and returns the limit and the id the page starts after.
// A cursor is the base64url of the last id of the page before: opaque to
// callers, and never more than an id long.
func (p Page) after() (limit int, after string, err error) {
	limit = p.Limit
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 1 || limit > MaxPageSize:
		return 0, "", domain.FieldErrorf(FieldLimit, domain.InvalidRequest, "limit is 1 to %d", MaxPageSize)
	}
	if p.Cursor == "" {
		return limit, "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(raw) == 0 || len(raw) > MaxClientIDBytes {
		return 0, "", domain.FieldErrorf(FieldCursor, domain.InvalidRequest, "the cursor is not one this server made")
	}
	return limit, string(raw), nil
}

// cursorAfter is the cursor of the page that follows one ending at id.
func cursorAfter(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// listPage reads one page with list, asking for one entry more than the
// limit to tell whether another page follows; next is its cursor, "" if
// none does.
func listPage[T any](ctx context.Context, p Page, list func(ctx context.Context, after string, limit int) ([]T, int, error), id func(T) string) (page []T, total int, next string, err error) {
	limit, after, err := p.after()
	if err != nil {
		return nil, 0, "", err
	}
	page, total, err = list(ctx, after, limit+1)
	if err != nil {
		return nil, 0, "", err
	}
	if len(page) > limit {
		page = page[:limit]
		next = cursorAfter(id(page[limit-1]))
	}
	return page, total, next, nil
}
