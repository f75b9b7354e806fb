package jwtkeys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

const issuer = "http://as.test"

func sampleToken(now time.Time) domain.AccessToken {
	return domain.AccessToken{
		ID: "jti-1", Issuer: issuer, Subject: "user-1", Audience: []string{"rs"}, ClientID: "c1",
		Scope: domain.NewScope("b", "a"), IssuedAt: now, ExpiresAt: now.Add(time.Minute), GrantID: "fam-1",
	}
}

func open(t *testing.T, store jwtkeys.Store, alg string, clock *storagetest.Clock) *jwtkeys.KeySet {
	ks, err := jwtkeys.Open(context.Background(), store, jwtkeys.Options{Algorithm: alg, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
	require.NoError(t, err)
	return ks
}

func segment(t *testing.T, token string, i int) map[string]any {
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func TestSignAndVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range jwtkeys.Algorithms {
		t.Run(alg, func(t *testing.T) {
			clock := storagetest.NewClock()
			ks := open(t, memory.New(clock.Now, app.LimitPolicy{}), alg, clock)
			want := sampleToken(clock.Now())
			tok, err := ks.SignAccessToken(context.Background(), want)
			require.NoError(t, err)

			header := segment(t, tok, 0)
			assert.Equal(t, "at+jwt", header["typ"], "RFC 9068 §2.1")
			assert.Equal(t, alg, header["alg"])
			assert.Equal(t, ks.SignerID(), header["kid"])
			payload := segment(t, tok, 1)
			for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} {
				assert.Contains(t, payload, claim, "RFC 9068 §2.2 claim")
			}
			assert.Equal(t, "rs", payload["aud"], "one audience is a string")
			assert.Equal(t, "a b", payload["scope"])

			got, err := ks.VerifyAccessToken(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, want.ID, got.ID)
			assert.Equal(t, want.Subject, got.Subject)
			assert.Equal(t, want.Audience, got.Audience)
			assert.Equal(t, want.ClientID, got.ClientID)
			assert.Equal(t, want.Scope, got.Scope)
			assert.Equal(t, want.GrantID, got.GrantID)
			assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt))
			assert.True(t, want.IssuedAt.Equal(got.IssuedAt))
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	ks := open(t, store, jwtkeys.ES256, clock)
	good, err := ks.SignAccessToken(context.Background(), sampleToken(clock.Now()))
	require.NoError(t, err)
	parts := strings.Split(good, ".")

	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signWith := func(method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	claims := jwt.MapClaims{"iss": issuer, "sub": "u", "aud": "rs", "exp": clock.Now().Add(time.Hour).Unix(), "iat": clock.Now().Unix(), "jti": "x", "client_id": "c"}
	otherIssuer := jwt.MapClaims{}
	for k, v := range claims {
		otherIssuer[k] = v
	}
	otherIssuer["iss"] = "http://evil.test"

	cases := map[string]string{
		"empty":             "",
		"garbage":           "not.a.jwt",
		"tampered payload":  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuer+`","jti":"x","client_id":"evil","exp":9999999999}`)) + "." + parts[2],
		"tampered sig":      parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"alg none":          base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+ks.SignerID()+`"}`)) + "." + parts[1] + ".",
		"foreign key":       signWith(jwt.SigningMethodES256, foreign, map[string]any{"typ": "at+jwt", "kid": ks.SignerID()}, claims),
		"unknown kid":       signWith(jwt.SigningMethodES256, foreign, map[string]any{"typ": "at+jwt", "kid": "nope"}, claims),
		"HS256 with pubkey": signWith(jwt.SigningMethodHS256, []byte("secret"), map[string]any{"typ": "at+jwt", "kid": ks.SignerID()}, claims),
		"wrong typ (an ID token)": func() string {
			return strings.Join(strings.Split(signWith(jwt.SigningMethodES256, foreign, map[string]any{"typ": "JWT", "kid": ks.SignerID()}, claims), "."), ".")
		}(),
		"other issuer": signWith(jwt.SigningMethodES256, foreign, map[string]any{"typ": "at+jwt", "kid": ks.SignerID()}, otherIssuer),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ks.VerifyAccessToken(context.Background(), tok)
			assert.ErrorIs(t, err, jwtkeys.ErrInvalidToken)
		})
	}
}

func TestRotationKeepsOldTokensVerifying(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	ks := open(t, store, jwtkeys.ES256, clock)
	oldKid := ks.SignerID()
	oldTok, err := ks.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)

	clock.Advance(time.Minute)
	newKid, err := ks.Rotate(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, oldKid, newKid)
	assert.Equal(t, newKid, ks.SignerID())

	newTok, err := ks.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)
	assert.Equal(t, newKid, segment(t, newTok, 0)["kid"])
	_, err = ks.VerifyAccessToken(ctx, oldTok)
	assert.NoError(t, err, "a token of the retired key still verifies")

	var jwks struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(ks.JWKS(), &jwks))
	require.Len(t, jwks.Keys, 4, "two generations of an ES256 and an RS256 key")
	assert.Contains(t, []any{jwks.Keys[0]["kid"], jwks.Keys[1]["kid"]}, newKid, "newest first")
	assert.ElementsMatch(t, []any{"ES256", "RS256"}, []any{jwks.Keys[0]["alg"], jwks.Keys[1]["alg"]}, "the new generation")
	for _, k := range jwks.Keys {
		assert.NotContains(t, k, "d", "no private part in the JWKS")
		assert.Equal(t, "sig", k["use"])
	}

	// A token signed at retirement may live MaxTokenTTL and, as exp is
	// rounded up to a whole second, a little more.
	clock.Advance(time.Hour + time.Second)
	require.NoError(t, ks.Refresh(ctx))
	require.NoError(t, json.Unmarshal(ks.JWKS(), &jwks))
	assert.Len(t, jwks.Keys, 4, "kept for a second's slack past MaxTokenTTL")

	// Past that no token of the old key can be alive.
	clock.Advance(2 * time.Second)
	require.NoError(t, ks.Refresh(ctx))
	require.NoError(t, json.Unmarshal(ks.JWKS(), &jwks))
	require.Len(t, jwks.Keys, 2)
	assert.Contains(t, []any{jwks.Keys[0]["kid"], jwks.Keys[1]["kid"]}, newKid)
	keys, err := store.SigningKeys(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 2, "the expired keys are deleted from the store")
}

func TestRotationByAnotherProcessIsSeen(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	server := open(t, jwtkeys.NewFileStore(path), jwtkeys.ES256, clock)

	// `authserver keys rotate` is another process with its own key set.
	cli := open(t, jwtkeys.NewFileStore(path), jwtkeys.ES256, clock)
	newKid, err := cli.Rotate(ctx)
	require.NoError(t, err)
	tok, err := cli.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)

	clock.Advance(2 * time.Second) // past the reload rate limit
	_, err = server.VerifyAccessToken(ctx, tok)
	require.NoError(t, err, "an unknown kid makes the server reload")
	assert.Equal(t, newKid, server.SignerID(), "and sign with the new key")
}

func TestKeysPersistInFile(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	path := filepath.Join(t.TempDir(), "data", "keys.json")
	first := open(t, jwtkeys.NewFileStore(path), jwtkeys.ES256, clock)
	tok, err := first.SignAccessToken(ctx, sampleToken(clock.Now()))
	require.NoError(t, err)

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "private keys readable by the owner only")

	restarted := open(t, jwtkeys.NewFileStore(path), jwtkeys.ES256, clock)
	assert.Equal(t, first.SignerID(), restarted.SignerID())
	_, err = restarted.VerifyAccessToken(ctx, tok)
	assert.NoError(t, err)

	switched := open(t, jwtkeys.NewFileStore(path), jwtkeys.EdDSA, clock)
	assert.NotEqual(t, first.SignerID(), switched.SignerID(), "a new algorithm in config rotates to a key of it")
	_, err = switched.VerifyAccessToken(ctx, tok)
	assert.NoError(t, err, "and the old key still verifies")
}

func TestFileStoreConformance(t *testing.T) {
	storagetest.RunSigningKeys(t, func(t *testing.T) jwtkeys.Store {
		return jwtkeys.NewFileStore(filepath.Join(t.TempDir(), "keys.json"))
	})
}

func BenchmarkSignES256(b *testing.B)   { benchSign(b, jwtkeys.ES256) }
func BenchmarkSignEdDSA(b *testing.B)   { benchSign(b, jwtkeys.EdDSA) }
func BenchmarkSignRS256(b *testing.B)   { benchSign(b, jwtkeys.RS256) }
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, jwtkeys.ES256) }

func benchSign(b *testing.B, alg string) {
	clock := storagetest.NewClock()
	ks, err := jwtkeys.Open(context.Background(), memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.Options{Algorithm: alg, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	t := sampleToken(clock.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.SignAccessToken(context.Background(), t); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, alg string) {
	clock := storagetest.NewClock()
	ks, err := jwtkeys.Open(context.Background(), memory.New(clock.Now, app.LimitPolicy{}), jwtkeys.Options{Algorithm: alg, Issuer: issuer, MaxTokenTTL: time.Hour, Clock: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := ks.SignAccessToken(context.Background(), sampleToken(clock.Now()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.VerifyAccessToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyRefusesCritAndFutureTimes: tokens signed with this server's
// own key, with the header byte for byte the one it writes or any other,
// are refused with a crit header or an iat or nbf further ahead than the
// clock skew.
func TestVerifyRefusesCritAndFutureTimes(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	store := memory.New(clock.Now, app.LimitPolicy{})
	ks := open(t, store, jwtkeys.ES256, clock)
	recs, err := store.SigningKeys(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 2, "the access tokens' key and the ID tokens' RS256 one")
	recs = slices.DeleteFunc(recs, func(k domain.SigningKey) bool { return k.Algorithm != jwtkeys.ES256 })
	block, _ := pem.Decode(recs[0].PrivatePEM)
	require.NotNil(t, block)
	own, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)

	now := clock.Now()
	sign := func(extraHeader map[string]any, change jwt.MapClaims) string {
		c := jwt.MapClaims{"iss": issuer, "sub": "u", "aud": "rs", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "x", "client_id": "c"}
		for k, v := range change {
			c[k] = v
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = ks.SignerID()
		for k, v := range extraHeader {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(own)
		require.NoError(t, err)
		return s
	}
	ownHeader := map[string]any(nil)                         // the exact header this server writes
	otherHeader := map[string]any{"cty": "application/json"} // any other header
	ahead := func(d time.Duration) int64 { return now.Add(d).Unix() }

	good := map[string]string{
		"plain, own header":                   sign(ownHeader, nil),
		"plain, other header":                 sign(otherHeader, nil),
		"iat within the skew":                 sign(ownHeader, jwt.MapClaims{"iat": ahead(jwtkeys.ClockSkew)}),
		"nbf within the skew, other header":   sign(otherHeader, jwt.MapClaims{"nbf": ahead(jwtkeys.ClockSkew)}),
		"nbf in the past":                     sign(ownHeader, jwt.MapClaims{"nbf": ahead(-time.Minute)}),
		"signed by SignAccessToken, iat skew": mustSign(t, ks, now.Add(4*time.Second)),
	}
	for name, tok := range good {
		t.Run("good: "+name, func(t *testing.T) {
			_, err := ks.VerifyAccessToken(ctx, tok)
			assert.NoError(t, err)
		})
	}
	bad := map[string]string{
		"crit header":                          sign(map[string]any{"crit": []string{"exp"}}, nil),
		"empty crit header":                    sign(map[string]any{"crit": []string{}}, nil),
		"crit naming an unknown member":        sign(map[string]any{"crit": []string{"x-ext"}, "x-ext": true}, nil),
		"iat in the future, own header":        sign(ownHeader, jwt.MapClaims{"iat": ahead(time.Minute)}),
		"iat in the future, other header":      sign(otherHeader, jwt.MapClaims{"iat": ahead(time.Minute)}),
		"iat just past the skew":               sign(ownHeader, jwt.MapClaims{"iat": ahead(jwtkeys.ClockSkew + time.Second)}),
		"nbf in the future, own header":        sign(ownHeader, jwt.MapClaims{"nbf": ahead(time.Minute)}),
		"nbf in the future, other header":      sign(otherHeader, jwt.MapClaims{"nbf": ahead(time.Hour)}),
		"signed by SignAccessToken, iat ahead": mustSign(t, ks, now.Add(time.Hour)),
	}
	for name, tok := range bad {
		t.Run("bad: "+name, func(t *testing.T) {
			_, err := ks.VerifyAccessToken(ctx, tok)
			assert.ErrorIs(t, err, jwtkeys.ErrInvalidToken)
		})
	}

	clock.Advance(time.Hour + time.Second)
	_, err = ks.VerifyAccessToken(ctx, bad["nbf in the future, other header"])
	assert.NoError(t, err, "a token is good once its nbf has come")
}

// mustSign signs a token issued at iat the way the token endpoint does.
func mustSign(t *testing.T, ks *jwtkeys.KeySet, iat time.Time) string {
	t.Helper()
	s, err := ks.SignAccessToken(context.Background(), sampleToken(iat))
	require.NoError(t, err)
	return s
}
