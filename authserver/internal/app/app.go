// Package app holds the authorization server's use cases: authenticating
// clients, issuing tokens by each grant, introspecting and revoking them,
// deciding authorization requests, signing people in, keeping their
// consents, and provisioning clients and users from fixtures. It
// declares, next to each use case, the small interfaces it needs from storage
// and crypto; adapters implement them. It imports no HTTP, database, logging
// or JWT package.
package app

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time

// newID returns a random identifier with 128 bits of entropy, URL-safe.
func newID() string { return randomString(16) }

// newOpaqueToken returns a bearer secret with 256 bits of entropy: enough that
// a fast hash is a safe way to store it and guessing is hopeless.
func newOpaqueToken() string { return randomString(32) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how opaque tokens (refresh tokens, codes) are stored: SHA-256
// of the token. They carry 256 bits of entropy, so a slow or salted hash would
// add cost and nothing else; the hash makes a leaked table useless.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
