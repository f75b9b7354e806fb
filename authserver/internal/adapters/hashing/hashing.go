// Package hashing stores secrets and passwords as self-describing hashes and
// verifies them. Two schemes, chosen by how much entropy the secret has:
//
//   - argon2id (RFC 9106) for anything a person chose: user passwords and
//     typed-in client secrets. Deliberately slow (about 20 ms and 19 MiB at
//     the OWASP minimum), so a leaked table cannot be brute-forced.
//   - hmac-sha256 keyed with a random per-secret salt, for secrets the server
//     generated with 256 bits of entropy. Such a secret cannot be guessed
//     however fast the hash, so a slow hash would only slow down every token
//     request; the salt still makes equal secrets hash differently.
//
// Hashes read "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (the PHC string
// format) and "$hmac-sha256$<salt>$<mac>", with unpadded standard Base64.
package hashing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	MemoryKiB uint32 `json:"memory_kib"`
	Time      uint32 `json:"time"`
	Threads   uint8  `json:"threads"`
}

// OWASP is the OWASP Password Storage Cheat Sheet's minimum for argon2id.
var OWASP = Argon2Params{MemoryKiB: 19456, Time: 2, Threads: 1}

const (
	prefixArgon2id = "$argon2id$"
	prefixHMAC     = "$hmac-sha256$"
	saltLen        = 16
	keyLen         = 32
)

var b64 = base64.RawStdEncoding

// ErrMalformed means a stored hash is not in a known format.
var ErrMalformed = errors.New("hashing: malformed hash")

// Hasher hashes and verifies. It bounds how many argon2id computations run
// at once: each takes MemoryKiB of memory and a core, so without a bound a
// burst of logins could exhaust memory; with one, the burst queues. The
// queue is bounded too, in length and in how long a hash may wait in it:
// past either, the hash is refused at once with an error matching
// domain.ErrUnavailable that says when to retry, rather than every request
// behind a flood waiting seconds for its turn.
type Hasher struct {
	params     Argon2Params
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	maxWait    time.Duration
}

// Queue bounds: by default a hash waits behind at most QueuePerSlot hashes
// per slot, and at most DefaultMaxWait.
const (
	QueuePerSlot   = 4
	DefaultMaxWait = 2 * time.Second
)

// ErrBusy means a hash was refused because too many were waiting, or it
// waited too long. It comes wrapped in domain.RetryAfter.
var ErrBusy = errors.New("hashing: too many password hashes waiting")

// NewHasher returns a Hasher using p for new argon2id hashes and running at
// most concurrency of them at once, with the default queue bounds.
func NewHasher(p Argon2Params, concurrency int) *Hasher {
	return NewQueuedHasher(p, concurrency, 0, 0)
}

// NewQueuedHasher is NewHasher with at most maxWaiting hashes waiting for
// a slot, each at most maxWait (QueuePerSlot × concurrency and
// DefaultMaxWait if zero).
func NewQueuedHasher(p Argon2Params, concurrency, maxWaiting int, maxWait time.Duration) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	if maxWaiting <= 0 {
		maxWaiting = QueuePerSlot * concurrency
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &Hasher{params: p, slots: make(chan struct{}, concurrency), maxWaiting: int64(maxWaiting), maxWait: maxWait}
}

// HashPassword returns an argon2id hash of secret.
func (h *Hasher) HashPassword(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	sum, err := h.argon2(ctx, []byte(secret), salt, h.params)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", prefixArgon2id, argon2.Version,
		h.params.MemoryKiB, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// HashGenerated returns the fast hash of a server-generated, high-entropy
// secret. Never use it for a secret a person chose.
func HashGenerated(secret string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	return prefixHMAC + b64.EncodeToString(salt) + "$" + b64.EncodeToString(mac(salt, secret))
}

// HashGenerated is the package's HashGenerated, for the callers that take
// a Hasher.
func (h *Hasher) HashGenerated(secret string) string { return HashGenerated(secret) }

// NewGeneratedSecret returns a new random secret with 256 bits of entropy,
// and its hash.
func NewGeneratedSecret() (secret, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashGenerated(secret)
}

// IsSlow reports whether verifying hash is expensive (argon2id).
func IsSlow(hash string) bool { return strings.HasPrefix(hash, prefixArgon2id) }

// VerifySecret reports whether secret matches hash, in constant time for a
// given hash. A malformed hash is an error, not a mismatch, so that a broken
// record shows up in the logs instead of as a wrong password.
func (h *Hasher) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, prefixHMAC):
		parts := strings.Split(strings.TrimPrefix(hash, prefixHMAC), "$")
		if len(parts) != 2 {
			return false, ErrMalformed
		}
		salt, err1 := b64.DecodeString(parts[0])
		want, err2 := b64.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			return false, ErrMalformed
		}
		return hmac.Equal(want, mac(salt, secret)), nil
	case strings.HasPrefix(hash, prefixArgon2id):
		p, salt, want, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		got, err := h.argon2(ctx, []byte(secret), salt, p)
		if err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare(got, want) == 1, nil
	default:
		return false, ErrMalformed
	}
}

func (h *Hasher) argon2(ctx context.Context, secret, salt []byte, p Argon2Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, keyLen), nil
}

// acquire takes a slot: at once if one is free, else after waiting in a
// queue of bounded length for a bounded time. A caller whose context ends
// while it waits gets the context's error.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return domain.RetryAfter(ErrBusy, time.Second)
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return domain.RetryAfter(ErrBusy, time.Second)
	}
}

func parseArgon2id(hash string) (Argon2Params, []byte, []byte, error) {
	// $argon2id$v=19$m=..,t=..,p=..$salt$hash splits into 6 parts.
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return Argon2Params{}, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Argon2Params{}, nil, nil, ErrMalformed
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Argon2Params{}, nil, nil, ErrMalformed
	}
	if p.MemoryKiB < 8 || p.Time < 1 || p.Threads < 1 || p.MemoryKiB > 4<<20 {
		return Argon2Params{}, nil, nil, ErrMalformed
	}
	salt, err1 := b64.DecodeString(parts[4])
	sum, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(sum) == 0 {
		return Argon2Params{}, nil, nil, ErrMalformed
	}
	return p, salt, sum, nil
}

func mac(key []byte, secret string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}
