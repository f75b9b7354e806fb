package hashing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"

	lru "github.com/hashicorp/golang-lru/v2"
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
	next    Verifier
	key     []byte
	entries *lru.Cache[string, [sha256.Size]byte]
}

// NewCachedVerifier returns a cache of at most maxEntries entries in front
// of next, the least recently used going first when it is full.
func NewCachedVerifier(next Verifier, maxEntries int) *CachedVerifier {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	entries, _ := lru.New[string, [sha256.Size]byte](max(maxEntries, 1)) // errs only on a size below 1
	return &CachedVerifier{next: next, key: k, entries: entries}
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
	cached, ok := c.entries.Get(hash)
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
	c.entries.Add(hash, tag)
	return true, nil
}
