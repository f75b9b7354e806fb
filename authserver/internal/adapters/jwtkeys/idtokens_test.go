package jwtkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

var _ app.IDTokenSigner = (*jwtkeys.KeySet)(nil)
var _ app.IDTokenVerifier = (*jwtkeys.KeySet)(nil)

func sampleIDToken(now time.Time) domain.IDToken {
	return domain.IDToken{
		Issuer: issuer, Subject: "user-1", Audience: []string{"client-1"},
		IssuedAt: now, ExpiresAt: now.Add(5 * time.Minute), AuthTime: now.Add(-time.Hour),
		Nonce: "n-0S6_WzA2Mj", AccessTokenHash: "77QmUPtjPfzWtF2AnpK9RQ", Methods: []string{"pwd"}, SessionID: "sid-1",
	}
}

// jwksAlgs maps each kid of the JWKS to its algorithm.
func jwksAlgs(t *testing.T, ks *jwtkeys.KeySet) map[string]string {
	var doc struct {
		Keys []struct{ Kid, Alg, Kty string }
	}
	require.NoError(t, json.Unmarshal(ks.JWKS(), &doc))
	out := map[string]string{}
	for _, k := range doc.Keys {
		out[k.Kid] = k.Alg
	}
	return out
}

func TestIDTokensBesideAccessTokens(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	ks := open(t, memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.ES256, clock)
	assert.Equal(t, []string{"ES256", "RS256"}, ks.IDTokenAlgs())

	access, err := ks.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)
	assert.Equal(t, "ES256", segment(t, access, 0)["alg"], "access tokens stay ES256")

	want := sampleIDToken(clock.Now())
	idt, err := ks.SignIDToken(ctx, "RS256", want)
	require.NoError(t, err)
	header := segment(t, idt, 0)
	assert.Equal(t, "RS256", header["alg"])
	assert.Equal(t, "JWT", header["typ"])
	kids := jwksAlgs(t, ks)
	assert.Equal(t, "RS256", kids[header["kid"].(string)], "its kid is the RS256 key's, in the JWKS")
	assert.Len(t, kids, 2, "one ES256 and one RS256 key")
	payload := segment(t, idt, 1)
	assert.Equal(t, map[string]any{
		"iss": issuer, "sub": "user-1", "aud": "client-1",
		"iat": float64(want.IssuedAt.Unix()), "exp": float64(want.ExpiresAt.Unix()), "auth_time": float64(want.AuthTime.Unix()),
		"nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "amr": []any{"pwd"}, "sid": "sid-1",
	}, payload)

	got, err := ks.VerifyIDToken(ctx, idt)
	require.NoError(t, err)
	assert.Equal(t, want, got, "verifies back to what was signed")

	es, err := ks.SignIDToken(ctx, "ES256", want)
	require.NoError(t, err)
	assert.Equal(t, "ES256", segment(t, es, 0)["alg"], "a client may register ES256")
	_, err = ks.VerifyIDToken(ctx, es)
	assert.NoError(t, err)
	_, err = ks.SignIDToken(ctx, "EdDSA", want)
	assert.Error(t, err, "no EdDSA key in this set")

	t.Run("a hint is not judged by its expiry", func(t *testing.T) {
		clock.Advance(24 * time.Hour)
		_, err := ks.VerifyIDToken(ctx, idt)
		assert.NoError(t, err)
	})
	t.Run("an access token is no ID token, nor the other way round", func(t *testing.T) {
		_, err := ks.VerifyIDToken(ctx, access)
		assert.ErrorIs(t, err, jwtkeys.ErrInvalidIDToken)
		_, err = ks.VerifyAccessToken(ctx, idt)
		assert.ErrorIs(t, err, jwtkeys.ErrInvalidToken)
	})
	t.Run("foreign and malformed tokens", func(t *testing.T) {
		foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		claims := jwt.MapClaims{"iss": issuer, "sub": "user-1", "aud": "client-1", "exp": clock.Now().Unix()}
		sign := func(key any, m jwt.SigningMethod, header map[string]any, c jwt.MapClaims) string {
			tok := jwt.NewWithClaims(m, c)
			for k, v := range header {
				tok.Header[k] = v
			}
			s, err := tok.SignedString(key)
			require.NoError(t, err)
			return s
		}
		esKid := ""
		for kid, alg := range jwksAlgs(t, ks) {
			if alg == "ES256" {
				esKid = kid
			}
		}
		for name, tok := range map[string]string{
			"another key, our kid": sign(foreign, jwt.SigningMethodES256, map[string]any{"kid": esKid}, claims),
			"no kid":               sign(foreign, jwt.SigningMethodES256, nil, claims),
			"alg none":             sign(jwt.UnsafeAllowNoneSignatureType, jwt.SigningMethodNone, map[string]any{"kid": esKid}, claims),
			"junk":                 "a.b.c",
			"empty":                "",
		} {
			_, err := ks.VerifyIDToken(ctx, tok)
			assert.ErrorIs(t, err, jwtkeys.ErrInvalidIDToken, name)
		}
	})
}

func TestIDTokenKeysRotateWithTheAccessKey(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	ks := open(t, store, jwtkeys.ES256, clock)
	before, err := ks.SignIDToken(ctx, "RS256", sampleIDToken(clock.Now()))
	require.NoError(t, err)
	oldKid := segment(t, before, 0)["kid"]

	clock.Advance(time.Minute)
	_, err = ks.Rotate(ctx)
	require.NoError(t, err)
	after, err := ks.SignIDToken(ctx, "RS256", sampleIDToken(clock.Now()))
	require.NoError(t, err)
	assert.NotEqual(t, oldKid, segment(t, after, 0)["kid"], "a new RS256 key signs")
	_, err = ks.VerifyIDToken(ctx, before)
	assert.NoError(t, err, "the retired one still verifies")
	assert.Len(t, jwksAlgs(t, ks), 4, "and both generations are in the JWKS")

	clock.Advance(time.Hour + 3*time.Second) // MaxTokenTTL and the slack
	require.NoError(t, ks.Refresh(ctx))
	assert.Len(t, jwksAlgs(t, ks), 2, "retained as long as the access key, then gone with it")
	_, err = ks.VerifyIDToken(ctx, before)
	assert.ErrorIs(t, err, jwtkeys.ErrInvalidIDToken)

	t.Run("a key set from before ID tokens gets its RS256 key at the next start", func(t *testing.T) {
		clock := storagetest.NewClock()
		store := memory.New(clock.Now, app.LimitPolicy{})
		old, err := jwtkeys.Generate(jwtkeys.ES256, clock.Now())
		require.NoError(t, err)
		require.NoError(t, store.AddSigningKey(ctx, old))
		ks := open(t, store, jwtkeys.ES256, clock)
		algs := jwksAlgs(t, ks)
		assert.Len(t, algs, 3, "the old key, kept, and a new generation")
		assert.NotEqual(t, old.ID, ks.SignerID(), "the whole generation is new")
		_, err = ks.SignIDToken(ctx, "RS256", sampleIDToken(clock.Now()))
		assert.NoError(t, err)
	})
	t.Run("RS256 access tokens share their key with the ID tokens", func(t *testing.T) {
		clock := storagetest.NewClock()
		ks := open(t, memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.RS256, clock)
		assert.Equal(t, []string{"RS256"}, ks.IDTokenAlgs())
		assert.Len(t, jwksAlgs(t, ks), 1)
	})
}
