package httpapi

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/domain"
)

func testSealer(t *testing.T, fill byte) *sealer {
	t.Helper()
	s, err := newSealer(bytes.Repeat([]byte{fill}, MinCookieKeyLen))
	require.NoError(t, err)
	return s
}

func TestSealedAttempt(t *testing.T) {
	s := testSealer(t, 1)
	a := domain.LoginAttempt{State: "STATE", Verifier: "VERIFIER-dBjftJeZ4CVP", Nonce: "NONCE",
		Expires: time.Date(2026, 11, 23, 13, 55, 0, 0, time.UTC), ReturnTo: "/page?x=1"}

	v, err := s.seal(a)
	require.NoError(t, err)
	got, err := s.open(v)
	require.NoError(t, err)
	assert.Equal(t, a, got)

	again, err := s.seal(a)
	require.NoError(t, err)
	assert.NotEqual(t, v, again, "a salt and a nonce of its own every time")
	assert.Less(t, len(v), 400, "well within a cookie's 4096 bytes")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	require.NoError(t, err)
	for _, secret := range []string{"STATE", "VERIFIER", "NONCE", "/page"} {
		assert.NotContains(t, string(raw), secret)
	}

	t.Run("any change to any byte is refused", func(t *testing.T) {
		for i := range raw {
			bad := bytes.Clone(raw)
			bad[i] ^= 0x80
			_, err := s.open(base64.RawURLEncoding.EncodeToString(bad))
			assert.ErrorIs(t, err, errUnsealed, "byte %d", i)
		}
	})
	for name, value := range map[string]string{
		"empty":           "",
		"not base64":      "!!!",
		"truncated":       v[:len(v)-4],
		"only the header": base64.RawURLEncoding.EncodeToString(raw[:17]),
		"padded":          v + "=",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.open(value)
			assert.ErrorIs(t, err, errUnsealed)
		})
	}
	t.Run("another key", func(t *testing.T) {
		_, err := testSealer(t, 2).open(v)
		assert.ErrorIs(t, err, errUnsealed)
	})
}

func TestSealerNeedsALongKey(t *testing.T) {
	_, err := newSealer(make([]byte, MinCookieKeyLen-1))
	assert.ErrorContains(t, err, "at least 32")
	_, err = NewPages(PageDeps{})
	assert.Error(t, err, "no key, no pages")
}
