package hashing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
)

// Verifier is what CachedVerifier wraps.
type Verifier interface {
	// VerifySecret reports whether secret matches hash.
	VerifySecret(ctx context.Context, hash, secret string) (bool, error)
}

// CachedVerifier remembers secrets that verified against a slow hash, so a
// machine client presenting the same low-entropy secret thousands of times a
// second pays argon2id once, not every time.
//
// What it keeps is HMAC(k, secret) under the stored hash, with k random per
// process and never stored: the table is useless once the process is gone,
// and a changed secret has a new stored hash, so it never matches a stale
// entry. A presented secret that does not match the cached one goes the slow
// way, so guessing is exactly as slow as without the cache.
//
// Use it for client secrets only. User passwords are verified in full each
// time: a person's password is the secret most worth keeping out of memory.
type CachedVerifier struct {
	next Verifier
	key  []byte
	max  int

	mu      sync.RWMutex
	entries map[string][sha256.Size]byte
}

// NewCachedVerifier returns a cache of at most maxEntries entries in front
// of next.
func NewCachedVerifier(next Verifier, maxEntries int) *CachedVerifier {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &CachedVerifier{next: next, key: k, max: maxEntries, entries: make(map[string][sha256.Size]byte)}
}

// VerifyQuick checks secret against hash when that needs no slow hash:
// the hash is of the fast scheme, or this secret verified against it
// before. done is false when only VerifySecret can tell; nothing is hashed
// slowly here.
func (c *CachedVerifier) VerifyQuick(ctx context.Context, hash, secret string) (ok, done bool, err error) {
	if !IsSlow(hash) {
		ok, err := c.next.VerifySecret(ctx, hash, secret)
		return ok, true, err
	}
	if c.cached(hash, c.tag(secret)) {
		return true, true, nil
	}
	return false, false, nil
}

func (c *CachedVerifier) tag(secret string) [sha256.Size]byte {
	var tag [sha256.Size]byte
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(secret))
	m.Sum(tag[:0])
	return tag
}

func (c *CachedVerifier) cached(hash string, tag [sha256.Size]byte) bool {
	c.mu.RLock()
	cached, ok := c.entries[hash]
	c.mu.RUnlock()
	return ok && hmac.Equal(cached[:], tag[:])
}

// VerifySecret reports whether secret matches hash, answering from the cache
// when this secret has verified against this hash before; only a successful
// slow verification is cached.
func (c *CachedVerifier) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	if !IsSlow(hash) {
		return c.next.VerifySecret(ctx, hash, secret)
	}
	tag := c.tag(secret)
	if c.cached(hash, tag) {
		return true, nil
	}

	valid, err := c.next.VerifySecret(ctx, hash, secret)
	if err != nil || !valid {
		return valid, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k := range c.entries { // evict one arbitrary entry
			delete(c.entries, k)
			break
		}
	}
	c.entries[hash] = tag
	c.mu.Unlock()
	return true, nil
}
