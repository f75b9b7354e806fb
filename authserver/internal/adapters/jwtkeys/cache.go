package jwtkeys

import (
	"context"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Verifier is what VerifyCache wraps.
type Verifier interface {
	// VerifyAccessToken returns the claims of token if its signature, header
	// and issuer are good.
	VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error)
}

// VerifyCache remembers tokens whose signature verified, until they expire.
// A resource server introspects the same token on every call it receives
// with it; after the first call the signature check (about 80 µs for ES256)
// is a map look-up. Only a token that verified is cached, keyed by its whole
// text, so a forged token can never hit an entry. Expiry and revocation are
// still judged by the caller on every call: the cache answers "is this our
// signature, and what does it say", never "is it still good".
type VerifyCache struct {
	next Verifier
	max  int
	now  func() time.Time

	mu      sync.RWMutex
	entries map[string]domain.AccessToken
}

// NewVerifyCache returns a cache of at most maxTokens tokens in front of next.
func NewVerifyCache(next Verifier, maxTokens int, now func() time.Time) *VerifyCache {
	return &VerifyCache{next: next, max: maxTokens, now: now, entries: make(map[string]domain.AccessToken, maxTokens)}
}

// VerifyAccessToken returns the claims of token, from the cache if it verified
// before, else from next; a token that verifies and has not expired is kept.
func (c *VerifyCache) VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error) {
	c.mu.RLock()
	t, ok := c.entries[token]
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	t, err := c.next.VerifyAccessToken(ctx, token)
	if err != nil {
		return t, err
	}
	if t.Expired(c.now()) {
		return t, nil // nothing to gain from keeping it
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[token] = t
	c.mu.Unlock()
	return t, nil
}

// evict makes room: expired entries go first; if none has expired, an
// arbitrary eighth of the cache goes, so a full cache is not swept on every
// insert. Called with the lock held.
func (c *VerifyCache) evict() {
	now := c.now()
	for k, t := range c.entries {
		if t.Expired(now) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max-c.max/8 {
			break
		}
		delete(c.entries, k)
	}
}

// Len returns how many tokens are cached.
func (c *VerifyCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
