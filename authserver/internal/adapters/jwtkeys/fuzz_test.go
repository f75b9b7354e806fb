package jwtkeys_test

import (
	"context"
	"testing"
	"time"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"

	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// FuzzVerifyAccessToken: nothing verifies but what this key set signed.
// The corpus starts from a genuine token, so the fuzzer mutates real
// headers, claims and signatures; whatever it makes that still verifies
// must assert exactly what the genuine token asserted.
func FuzzVerifyAccessToken(f *testing.F) {
	clock := storagetest.NewClock()
	t0 := clock.Now()
	for _, alg := range []string{"ES256", "EdDSA"} {
		ks, err := openForFuzz(alg, clock)
		if err != nil {
			f.Fatal(err)
		}
		tok, err := ks.SignAccessToken(context.Background(), sampleToken(t0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	ks, err := openForFuzz("ES256", clock)
	if err != nil {
		f.Fatal(err)
	}
	genuine, err := ks.SignAccessToken(context.Background(), sampleToken(t0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	want, err := ks.VerifyAccessToken(context.Background(), genuine)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := ks.VerifyAccessToken(context.Background(), token)
		if err != nil {
			return
		}
		if got.ID != want.ID || got.Subject != want.Subject || got.ClientID != want.ClientID || got.GrantID != want.GrantID ||
			got.Scope.String() != want.Scope.String() || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.IssuedAt.Equal(want.IssuedAt) {
			t.Fatalf("a forged token verified: %q asserts %+v", token, got)
		}
	})
}

func openForFuzz(alg string, clock *storagetest.Clock) (*jwtkeys.KeySet, error) {
	return jwtkeys.Open(context.Background(), memory.New(clock.Now, app.LimitPolicy{}),
		jwtkeys.Options{Algorithm: alg, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
}
