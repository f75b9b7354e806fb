package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/resourceserver/internal/domain"
)

func TestErrorIs(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"an inactive token, wrapped", fmt.Errorf("wrapped: %w", domain.ErrTokenInactive), domain.ErrTokenInactive, true},
		{"no token is no inactive token", domain.ErrNoToken, domain.ErrTokenInactive, false},
		{"rejected credentials are unavailability", fmt.Errorf("%w: 401", domain.ErrCredentialsRejected), domain.ErrUnavailable, true},
		{"unavailability is not rejection", fmt.Errorf("%w: refused", domain.ErrUnavailable), domain.ErrCredentialsRejected, false},
		{"unavailable is no refusal of the token", domain.ErrUnavailable, domain.ErrTokenInactive, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, errors.Is(tc.err, tc.target))
		})
	}
}

func TestToken(t *testing.T) {
	tok := domain.Token{Scope: []string{"current_time"}, Audience: []string{"a", "resourceserver"}}
	assert.True(t, tok.HasScope(domain.ScopeCurrentTime))
	assert.False(t, tok.HasScope(domain.ScopeEpochTime))
	assert.True(t, tok.IntendedFor("resourceserver"))
	assert.True(t, tok.IntendedFor(""), "no audience configured")
	assert.False(t, tok.IntendedFor("webapp"))

	for typ, want := range map[string]bool{"": true, "Bearer": true, "bearer": true, "DPoP": false, "refresh_token": false} {
		assert.Equal(t, want, domain.Token{TokenType: typ}.IsBearer(), typ)
	}
}
