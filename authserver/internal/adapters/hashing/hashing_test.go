package hashing

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
)

// cheap keeps tests fast; the format and logic are the same at any cost.
var cheap = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestArgon2idRoundTrip(t *testing.T) {
	h := NewHasher(cheap, 2)
	ctx := context.Background()
	hash, err := h.HashPassword(ctx, "qwerty")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$"), hash)
	assert.True(t, IsSlow(hash))

	ok, err := h.VerifySecret(ctx, hash, "qwerty")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.VerifySecret(ctx, hash, "qwertz")
	require.NoError(t, err)
	assert.False(t, ok)

	again, err := h.HashPassword(ctx, "qwerty")
	require.NoError(t, err)
	assert.NotEqual(t, hash, again, "salted: equal secrets hash differently")
}

func TestVerifyUsesParametersFromTheHash(t *testing.T) {
	old := NewHasher(cheap, 1)
	hash, err := old.HashPassword(context.Background(), "pw")
	require.NoError(t, err)
	stronger := NewHasher(Argon2Params{MemoryKiB: 128, Time: 2, Threads: 1}, 1)
	ok, err := stronger.VerifySecret(context.Background(), hash, "pw")
	require.NoError(t, err)
	assert.True(t, ok, "hashes made under older parameters still verify")
}

func TestGeneratedSecretUsesFastHash(t *testing.T) {
	secret, hash := NewGeneratedSecret()
	assert.Len(t, secret, 43)
	assert.True(t, strings.HasPrefix(hash, "$hmac-sha256$"))
	assert.False(t, IsSlow(hash))
	h := NewHasher(cheap, 1)
	ok, err := h.VerifySecret(context.Background(), hash, secret)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.VerifySecret(context.Background(), hash, secret+"x")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestMalformedHashes(t *testing.T) {
	h := NewHasher(cheap, 1)
	for _, bad := range []string{
		"", "plain", "$md5$abc", "$hmac-sha256$onlyone", "$hmac-sha256$!!$!!",
		"$argon2id$v=19$m=64,t=1,p=1$salt", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$aGFzaA",
	} {
		ok, err := h.VerifySecret(context.Background(), bad, "x")
		assert.ErrorIs(t, err, ErrMalformed, bad)
		assert.False(t, ok)
	}
}

func TestVerifyHonoursContextWhileQueued(t *testing.T) {
	h := NewHasher(cheap, 1)
	hash, err := h.HashPassword(context.Background(), "pw")
	require.NoError(t, err)
	h.slots <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.VerifySecret(ctx, hash, "pw")
	assert.ErrorIs(t, err, context.Canceled)
}

// The queue for a hash slot is bounded in length and in time: past either
// a hash is refused at once, as an outage to retry after a second, not
// queued behind a flood.
func TestTheQueueIsBounded(t *testing.T) {
	h := NewQueuedHasher(cheap, 1, 2, 200*time.Millisecond)
	hash, err := h.HashPassword(context.Background(), "pw")
	require.NoError(t, err)
	h.slots <- struct{}{} // the only slot is busy

	start := time.Now()
	_, err = h.VerifySecret(context.Background(), hash, "pw")
	assert.ErrorIs(t, err, ErrBusy)
	assert.ErrorIs(t, err, domain.ErrUnavailable)
	assert.Equal(t, time.Second, domain.RetryAfterOf(err, 0))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "waited its turn for maxWait")

	// Two wait; the third is refused without waiting.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _ = h.VerifySecret(ctx, hash, "pw") })
	}
	require.Eventually(t, func() bool { return h.waiting.Load() == 2 }, 5*time.Second, time.Millisecond)
	start = time.Now()
	_, err = h.VerifySecret(context.Background(), hash, "pw")
	assert.ErrorIs(t, err, ErrBusy)
	assert.Less(t, time.Since(start), 100*time.Millisecond, "a full queue refuses at once")
	cancel()
	wg.Wait()

	<-h.slots // the slot is free again: hashes run
	ok, err := h.VerifySecret(context.Background(), hash, "pw")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Zero(t, h.waiting.Load())
}

func TestQuickVerification(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(cheap, 1)
	slow, err := h.HashPassword(ctx, "typed")
	require.NoError(t, err)
	fast := HashGenerated("generated")
	c := NewCachedVerifier(h, 10)

	ok, done, err := c.VerifyQuick(ctx, fast, "generated")
	assert.True(t, ok && done)
	require.NoError(t, err)
	ok, done, _ = c.VerifyQuick(ctx, fast, "wrong")
	assert.True(t, !ok && done, "a fast hash is always decided")
	_, done, _ = c.VerifyQuick(ctx, slow, "typed")
	assert.False(t, done, "a slow hash not seen before needs the slow check")
	ok, err = c.VerifySecret(ctx, slow, "typed")
	require.NoError(t, err)
	require.True(t, ok)
	ok, done, _ = c.VerifyQuick(ctx, slow, "typed")
	assert.True(t, ok && done, "now it is cached")
	_, done, _ = c.VerifyQuick(ctx, slow, "wrong")
	assert.False(t, done, "a different secret still needs the slow check")
}

type countingVerifier struct {
	calls atomic.Int64
	next  Verifier
}

func (c *countingVerifier) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	c.calls.Add(1)
	return c.next.VerifySecret(ctx, hash, secret)
}

func TestCachedVerifier(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(cheap, 2)
	slow, err := h.HashPassword(ctx, "qwerty")
	require.NoError(t, err)
	counter := &countingVerifier{next: h}
	c := NewCachedVerifier(counter, 2)

	for i := 0; i < 3; i++ {
		ok, err := c.VerifySecret(ctx, slow, "qwerty")
		require.NoError(t, err)
		assert.True(t, ok)
	}
	assert.EqualValues(t, 1, counter.calls.Load(), "argon2id paid once")

	ok, err := c.VerifySecret(ctx, slow, "wrong")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.EqualValues(t, 2, counter.calls.Load(), "a wrong secret always takes the slow path")

	newHash, err := h.HashPassword(ctx, "rotated")
	require.NoError(t, err)
	ok, err = c.VerifySecret(ctx, newHash, "qwerty")
	require.NoError(t, err)
	assert.False(t, ok, "a changed secret is not answered from the old entry")

	_, fast := NewGeneratedSecret()
	_, _ = c.VerifySecret(ctx, fast, "x")
	_, _ = c.VerifySecret(ctx, fast, "x")
	assert.EqualValues(t, 5, counter.calls.Load(), "fast hashes are not cached")

	// Bounded: adding more slow hashes than max keeps the map at max.
	for i := 0; i < 4; i++ {
		hh, err := h.HashPassword(ctx, "s")
		require.NoError(t, err)
		_, _ = c.VerifySecret(ctx, hh, "s")
	}
	assert.LessOrEqual(t, c.entries.Len(), 2)
}

func BenchmarkVerifyGenerated(b *testing.B) {
	secret, hash := NewGeneratedSecret()
	h := NewHasher(OWASP, 2)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.VerifySecret(context.Background(), hash, secret)
	}
}

func BenchmarkVerifyArgon2idOWASP(b *testing.B) {
	h := NewHasher(OWASP, 2)
	hash, _ := h.HashPassword(context.Background(), "qwerty")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.VerifySecret(context.Background(), hash, "qwerty")
	}
}

func BenchmarkVerifyArgon2idCached(b *testing.B) {
	h := NewHasher(OWASP, 2)
	hash, _ := h.HashPassword(context.Background(), "qwerty")
	c := NewCachedVerifier(h, 100)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.VerifySecret(context.Background(), hash, "qwerty")
	}
}
