package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/webapp/internal/domain"
)

func TestNewRandom(t *testing.T) {
	seen := map[domain.Secret]bool{}
	for range 100 {
		r := domain.NewRandom()
		assert.GreaterOrEqual(t, len(r), 26, "at least 128 bits in base32")
		assert.Regexp(t, `^[A-Z2-7]+$`, string(r), "safe in cookies and URLs")
		assert.False(t, seen[r])
		seen[r] = true
	}
}

func TestSecretsMatch(t *testing.T) {
	s := domain.Session{CSRFToken: "csrf-1"}
	a := domain.LoginAttempt{State: "state-1"}
	cases := []struct {
		name     string
		got      string
		csrf, st bool
	}{
		{"same", "csrf-1", true, false},
		{"state", "state-1", false, true},
		{"prefix", "csrf-", false, false},
		{"longer", "csrf-1x", false, false},
		{"empty", "", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.csrf, s.CSRFMatches(tc.got))
			assert.Equal(t, tc.st, a.StateMatches(tc.got))
		})
	}
	assert.False(t, domain.Session{}.CSRFMatches(""), "an empty token never matches, even an empty one")
	assert.False(t, domain.LoginAttempt{}.StateMatches(""))
}

func TestExpiry(t *testing.T) {
	end := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		now  time.Time
		want bool
	}{
		"before": {end.Add(-time.Nanosecond), false},
		"at":     {end, true},
		"after":  {end.Add(time.Second), true},
	} {
		assert.Equal(t, c.want, domain.Session{Expires: end}.Expired(c.now), name)
		assert.Equal(t, c.want, domain.LoginAttempt{Expires: end}.Expired(c.now), name)
	}
}

func TestSessionNeverPrintsItsSecrets(t *testing.T) {
	s := domain.Session{ID: "sid-123", CSRFToken: "csrf-123",
		Tokens: domain.Tokens{AccessToken: "at-123", RefreshToken: "rt-123"}}
	a := domain.LoginAttempt{State: "state-123", Verifier: "verifier-123", Nonce: "nonce-123"}
	out := fmt.Sprintf("%v %+v %#v %v %+v", s, s, s, a, a)
	for _, secret := range []string{"sid-123", "csrf-123", "at-123", "rt-123", "state-123", "verifier-123", "nonce-123"} {
		assert.NotContains(t, out, secret)
	}
}
