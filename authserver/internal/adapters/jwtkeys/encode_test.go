package jwtkeys

import (
	"context"
	"encoding/base64"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
)

// TestEncodingMatchesGolangJWT: a token SignAccessToken signs is, header
// and claims byte for byte, the one golang-jwt alone would sign
// (jwt.NewWithClaims(...).SignedString); only the ES256 signature, random,
// differs, and they verify alike.
func TestEncodingMatchesGolangJWT(t *testing.T) {
	ctx := context.Background()
	ks, err := Open(ctx, &oneKeyStore{}, Options{Issuer: "https://as.example.com", MaxTokenTTL: time.Hour})
	require.NoError(t, err)
	k, err := ks.signingKey(ctx, ES256)
	require.NoError(t, err)
	now := time.Now()
	base := domain.AccessToken{ID: "jti", Issuer: "https://as.example.com", Subject: "user-1", Audience: []string{"rs"},
		ClientID: "c", Scope: domain.NewScope("a", "b"), IssuedAt: now, ExpiresAt: now.Add(time.Minute), GrantID: "g"}
	cases := map[string]func(t *domain.AccessToken){
		"as is":           func(*domain.AccessToken) {},
		"two audiences":   func(t *domain.AccessToken) { t.Audience = []string{"a", "b"} },
		"no audience":     func(t *domain.AccessToken) { t.Audience = nil },
		"no scope":        func(t *domain.AccessToken) { t.Scope = nil },
		"no grant":        func(t *domain.AccessToken) { t.GrantID = "" },
		"no subject":      func(t *domain.AccessToken) { t.Subject = "" },
		"quote and slash": func(t *domain.AccessToken) { t.Subject = `a"b\c` },
		"control chars":   func(t *domain.AccessToken) { t.Subject = "a\nb\tc\x01\x7f" },
		"non-ASCII":       func(t *domain.AccessToken) { t.Subject = "zoë 東京 \u2028" },
		"invalid UTF-8":   func(t *domain.AccessToken) { t.ClientID = "a\xffb" },
		"HTML-sensitive":  func(t *domain.AccessToken) { t.Issuer = "https://x/?a=<b>&c" },
		"odd scope":       func(t *domain.AccessToken) { t.Scope = domain.Scope{`we"ird`, "<x>"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			tok := base
			mutate(&tok)
			hand, err := ks.SignAccessToken(ctx, tok)
			require.NoError(t, err)
			lib, err := signJWT(k, tok)
			require.NoError(t, err)
			h, l := strings.Split(hand, "."), strings.Split(lib, ".")
			assert.Equal(t, l[0], h[0], "header")
			assert.Equal(t, decode(t, l[1]), decode(t, h[1]), "claims")
			// Both verify, or neither (another issuer, a scope the server
			// would not issue).
			gotH, errH := ks.VerifyAccessToken(ctx, hand)
			gotL, errL := ks.VerifyAccessToken(ctx, lib)
			assert.Equal(t, errH == nil, errL == nil, "hand: %v, golang-jwt: %v", errH, errL)
			assert.Equal(t, gotL, gotH)
			if name == "as is" {
				assert.NoError(t, errH)
			}
		})
	}
}

func decode(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	return string(b)
}

// claimsOf is t as the claims of its token.
func claimsOf(t domain.AccessToken) *claims {
	return &claims{Iss: t.Issuer, Sub: t.Subject, Aud: audience(t.Audience), Exp: t.ExpiresAt.Unix(),
		Iat: t.IssuedAt.Unix(), Jti: t.ID, ClientID: t.ClientID, Scope: t.Scope.String(), Gid: t.GrantID}
}

// signJWT signs t with k through golang-jwt alone: what SignAccessToken
// is held to and measured against.
func signJWT(k *parsedKey, t domain.AccessToken) (string, error) {
	tok := jwt.NewWithClaims(k.method, claimsOf(t))
	tok.Header["kid"] = k.rec.ID
	tok.Header["typ"] = TokenType
	return tok.SignedString(k.signer)
}

func TestHeaderSegment(t *testing.T) {
	raw, err := base64.RawURLEncoding.DecodeString(headerSegment("ES256", "kid-1"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"alg":"ES256","kid":"kid-1","typ":"at+jwt"}`, string(raw))
}

// BenchmarkSignEncoding compares the two ways of signing an access token:
// the hand-written path (SignAccessToken: the header encoded once per key,
// the claims by appendClaims) and golang-jwt alone (signJWT:
// jwt.NewWithClaims(...).SignedString, header and claims through
// encoding/json). Each iteration signs a block of tokens one way and a
// block the other, in turns which goes first, and times each block in
// process CPU time (garbage collection included, which wall time on a
// shared machine would drown), so both see the same machine at the same
// moment. It reports the CPU time per token of each and the difference.
// Run it with -benchtime 300x or more and -count 5.
func BenchmarkSignEncoding(b *testing.B) {
	ctx := context.Background()
	ks, err := Open(ctx, &oneKeyStore{}, Options{Issuer: "http://localhost:5001", MaxTokenTTL: time.Hour})
	require.NoError(b, err)
	k, err := ks.signingKey(ctx, ES256)
	require.NoError(b, err)
	now := time.Now()
	// What the token endpoint signs for the demo's client_credentials client.
	tok := domain.AccessToken{ID: "d6cf5f7e-2a4b-4c8e-9f3a-1b2c3d4e5f60", Issuer: "http://localhost:5001", Subject: "service",
		Audience: []string{"http://localhost:5001"}, ClientID: "service", Scope: domain.NewScope("current_time", "epoch_time"),
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	const block = 64
	hand := func() {
		for range block {
			if _, err := ks.SignAccessToken(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	library := func() {
		for range block {
			if _, err := signJWT(k, tok); err != nil {
				b.Fatal(err)
			}
		}
	}
	var handCPU, libraryCPU time.Duration
	timed := func(f func()) time.Duration {
		start := cpuTime(b)
		f()
		return cpuTime(b) - start
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			handCPU += timed(hand)
			libraryCPU += timed(library)
		} else {
			libraryCPU += timed(library)
			handCPU += timed(hand)
		}
		i++
	}
	tokens := float64(i * block)
	b.ReportMetric(float64(handCPU.Nanoseconds())/tokens, "cpu-ns/token-hand")
	b.ReportMetric(float64(libraryCPU.Nanoseconds())/tokens, "cpu-ns/token-golang-jwt")
	b.ReportMetric(float64((libraryCPU-handCPU).Nanoseconds())/tokens, "cpu-ns/token-saved")
}

// cpuTime is the CPU time this process has used, its every thread.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// oneKeyStore keeps the keys of a benchmark (the memory store's package
// imports this one).
type oneKeyStore struct{ keys []domain.SigningKey }

func (s *oneKeyStore) SigningKeys(context.Context) ([]domain.SigningKey, error) { return s.keys, nil }

func (s *oneKeyStore) AddSigningKey(_ context.Context, k ...domain.SigningKey) error {
	s.keys = append(s.keys, k...)
	return nil
}

func (s *oneKeyStore) DeleteSigningKeys(context.Context, time.Time) error { return nil }
