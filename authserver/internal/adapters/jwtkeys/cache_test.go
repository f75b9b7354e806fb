package jwtkeys_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

type countingVerifier struct {
	calls atomic.Int64
	next  jwtkeys.Verifier
}

func (c *countingVerifier) VerifyAccessToken(ctx context.Context, tok string) (domain.AccessToken, error) {
	c.calls.Add(1)
	return c.next.VerifyAccessToken(ctx, tok)
}

func TestVerifyCache(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	ks := open(t, memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.ES256, clock)
	counter := &countingVerifier{next: ks}
	cache := jwtkeys.NewVerifyCache(counter, 8, clock.Now)

	tok, err := ks.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		got, err := cache.VerifyAccessToken(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, "jti-1", got.ID)
	}
	assert.EqualValues(t, 1, counter.calls.Load(), "the signature is checked once")

	forged := tok[:strings.LastIndex(tok, ".")+1] + "AAAA"
	for i := 0; i < 2; i++ {
		_, err = cache.VerifyAccessToken(ctx, forged)
		assert.ErrorIs(t, err, jwtkeys.ErrInvalidToken)
	}
	assert.EqualValues(t, 3, counter.calls.Load(), "failures are never cached")

	// Bounded: expired entries are evicted first, then an arbitrary share.
	clock.Advance(2 * time.Minute) // sampleToken lives one minute
	for i := 0; i < 20; i++ {
		tk := sampleToken(clock.Now())
		tk.ID = "jti-" + string(rune('a'+i))
		s, err := ks.SignAccessToken(ctx, tk)
		require.NoError(t, err)
		_, err = cache.VerifyAccessToken(ctx, s)
		require.NoError(t, err)
		assert.LessOrEqual(t, cache.Len(), 8)
	}
	_, err = cache.VerifyAccessToken(ctx, tok)
	require.NoError(t, err, "an expired token still verifies; expiry is the caller's to judge")
}

func BenchmarkVerifyCachedES256(b *testing.B) {
	clock := storagetest.NewClock()
	ks, err := jwtkeys.Open(context.Background(), memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.Options{Algorithm: jwtkeys.ES256, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := ks.SignAccessToken(context.Background(), sampleToken(clock.Now()))
	cache := jwtkeys.NewVerifyCache(ks, 1000, clock.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.VerifyAccessToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
