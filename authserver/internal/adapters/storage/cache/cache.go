// Package cache keeps recently read clients in memory in front of a durable
// client store. Every token, introspection and revocation request reads its
// client; with PostgreSQL that would be a round trip on the hottest path for
// data that changes a few times a year.
//
// A change made through this process is seen at once; one made elsewhere
// (another replica, `authserver loaddata`) within the TTL. A secret rotated
// on another replica therefore keeps working here for at most the TTL.
package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// ClientStore is the store the cache fronts.
type ClientStore interface {
	// FindClient returns the client registered under id, or domain.ErrNotFound.
	FindClient(ctx context.Context, id string) (domain.Client, error)
	// SaveClient creates or replaces c.
	SaveClient(ctx context.Context, c domain.Client) error
	// SaveScope creates or replaces the scope named s.Name.
	SaveScope(ctx context.Context, s domain.ScopeInfo) error
	// ListScopes returns every scope the store knows.
	ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
	// SaveBatch saves scopes, clients and users in one step.
	SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error
	// ClientOrigins returns every origin some client allows.
	ClientOrigins(ctx context.Context) ([]string, error)
	// CreateClient stores a new client; it and the three below are the
	// admin use cases' (app.ClientRegistry).
	CreateClient(ctx context.Context, c domain.Client) error
	// UpdateClient changes a client in one atomic step.
	UpdateClient(ctx context.Context, id string, update func(c *domain.Client) error) error
	// DeleteClient deletes a client for good.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns a page of clients and their total.
	ListClients(ctx context.Context, after string, limit int) ([]domain.Client, int, error)
	// ListOwnedClients returns the clients a user registered
	// (app.OwnedClients).
	ListOwnedClients(ctx context.Context, owner string, limit int) ([]domain.Client, error)
}

// Clients is a read-through cache of clients.
type Clients struct {
	ClientStore
	ttl     time.Duration
	now     func() time.Time
	entries *lru.Cache[string, entry]

	mu      sync.Mutex // guards origins
	origins originSet
}

// originSet is every origin some client allows, read whole from the store
// at most once per TTL: a CORS preflight asks whether any client allows an
// origin, and the answer must not cost a query per browser request.
type originSet struct {
	set     map[string]bool
	expires time.Time
}

type entry struct {
	client  domain.Client
	found   bool // unknown clients are cached too, so junk ids cannot hammer the store
	expires time.Time
}

// NewClients returns a cache of at most maxClients clients, each kept for
// ttl by the injected clock, the least recently used going first when full.
func NewClients(next ClientStore, ttl time.Duration, maxClients int, now func() time.Time) *Clients {
	entries, _ := lru.New[string, entry](max(maxClients, 1)) // errs only on a size below 1
	return &Clients{ClientStore: next, ttl: ttl, now: now, entries: entries}
}

// FindClient returns the client registered under id, from the cache while its
// entry is fresh. Unknown ids are cached too, unless longer than any
// client id may be (those are not found, without a look-up); a store error
// other than domain.ErrNotFound is returned and not cached.
func (c *Clients) FindClient(ctx context.Context, id string) (domain.Client, error) {
	if len(id) > app.MaxClientIDBytes {
		// No client has such an id, and caching it would let junk ids of
		// any size fill the cache.
		return domain.Client{}, domain.ErrNotFound
	}
	now := c.now()
	if e, ok := c.entries.Get(id); ok && now.Before(e.expires) {
		if !e.found {
			return domain.Client{}, domain.ErrNotFound
		}
		return e.client, nil
	}
	cl, err := c.ClientStore.FindClient(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return cl, err // an outage is not cached
	}
	c.entries.Add(id, entry{client: cl, found: found, expires: now.Add(c.ttl)})
	return cl, err
}

// SaveClient saves cl in the store and drops its cache entry, so this process
// sees the change at once; other processes see it when their entry expires.
func (c *Clients) SaveClient(ctx context.Context, cl domain.Client) error {
	err := c.ClientStore.SaveClient(ctx, cl)
	c.forget(cl)
	return err
}

// SaveBatch saves in the store and drops the cache entries of the clients
// saved, as SaveClient does.
func (c *Clients) SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	err := c.ClientStore.SaveBatch(ctx, scopes, clients, users)
	c.forget(clients...)
	return err
}

// CreateClient creates cl in the store and drops its cache entry (an
// unknown id is cached too).
func (c *Clients) CreateClient(ctx context.Context, cl domain.Client) error {
	err := c.ClientStore.CreateClient(ctx, cl)
	c.forget(cl)
	return err
}

// UpdateClient updates the client in the store and drops its cache entry.
func (c *Clients) UpdateClient(ctx context.Context, id string, update func(cl *domain.Client) error) error {
	err := c.ClientStore.UpdateClient(ctx, id, update)
	c.forget(domain.Client{ID: id})
	return err
}

// DeleteClient deletes the client in the store and drops its cache entry:
// this process refuses it at once, others when their entry expires.
func (c *Clients) DeleteClient(ctx context.Context, id string) error {
	err := c.ClientStore.DeleteClient(ctx, id)
	c.forget(domain.Client{ID: id})
	return err
}

func (c *Clients) forget(clients ...domain.Client) {
	for _, cl := range clients {
		c.entries.Remove(cl.ID)
	}
	c.mu.Lock()
	c.origins = originSet{}
	c.mu.Unlock()
}

// OriginAllowed reports whether any client allows origin, from the set of
// every client's origins while it is fresh.
func (c *Clients) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	o := c.origins
	c.mu.Unlock()
	if o.set == nil || !now.Before(o.expires) {
		list, err := c.ClientOrigins(ctx)
		if err != nil {
			return false, err // an outage is not cached
		}
		o = originSet{set: make(map[string]bool, len(list)), expires: now.Add(c.ttl)}
		for _, x := range list {
			o.set[x] = true
		}
		c.mu.Lock()
		c.origins = o
		c.mu.Unlock()
	}
	return o.set[origin], nil
}
