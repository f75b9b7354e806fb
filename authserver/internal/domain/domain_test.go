package domain

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseScope(t *testing.T) {
	cases := []struct {
		in      string
		want    Scope
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "b a", want: Scope{"a", "b"}},
		{in: "a a b", want: Scope{"a", "b"}},
		{in: "read:all https://api.example.com/x", want: Scope{"https://api.example.com/x", "read:all"}},
		{in: "a  b", wantErr: true},
		{in: " a", wantErr: true},
		{in: `a"b`, wantErr: true},
		{in: `a\b`, wantErr: true},
		{in: "a\tb", wantErr: true},
		{in: "caf\u00e9", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseScope(tc.in)
			if tc.wantErr {
				assert.Equal(t, InvalidScope, CodeOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestScopeSetOperations(t *testing.T) {
	s := NewScope("b", "a", "c")
	assert.Equal(t, "a b c", s.String())
	assert.True(t, s.Has("b"))
	assert.False(t, s.Has("d"))
	assert.True(t, s.Covers(NewScope("a", "c")))
	assert.True(t, s.Covers(nil))
	assert.False(t, s.Covers(NewScope("a", "d")))
	assert.Equal(t, Scope{"d", "e"}, s.Missing(NewScope("e", "a", "d")))
}

func TestGrantScope(t *testing.T) {
	c := Client{Scopes: NewScope("a", "b", "c"), DefaultScopes: NewScope("a")}
	got, err := c.GrantScope(nil)
	require.NoError(t, err)
	assert.Equal(t, NewScope("a"), got, "no scope asked: the default")

	got, err = c.GrantScope(NewScope("b", "c"))
	require.NoError(t, err)
	assert.Equal(t, NewScope("b", "c"), got)

	_, err = c.GrantScope(NewScope("a", "z"))
	assert.Equal(t, InvalidScope, CodeOf(err), "never a silent downgrade")
	assert.Contains(t, err.Error(), `"z"`)

	noDefault := Client{Scopes: NewScope("a")}
	_, err = noDefault.GrantScope(nil)
	assert.Equal(t, InvalidScope, CodeOf(err))

	noScopes := Client{}
	got, err = noScopes.GrantScope(nil)
	require.NoError(t, err)
	assert.Empty(t, got, "a client with no scopes at all gets an empty grant")
}

func TestClientValidate(t *testing.T) {
	good := Client{ID: "c", Type: Confidential, SecretHash: "h", AuthMethods: []AuthMethod{ClientSecretBasic},
		GrantTypes: []GrantType{GrantClientCredentials}, Scopes: NewScope("a"), DefaultScopes: NewScope("a")}
	require.NoError(t, good.Validate())
	withRate := good
	withRate.RateLimit = RateLimit{PerSecond: 0.5, Burst: 3}
	require.NoError(t, withRate.Validate(), "a rate of its own")

	cases := map[string]func(c *Client){
		"no id":                          func(c *Client) { c.ID = "" },
		"confidential without secret":    func(c *Client) { c.SecretHash = "" },
		"confidential with none":         func(c *Client) { c.AuthMethods = []AuthMethod{AuthNone} },
		"public with secret":             func(c *Client) { c.Type = Public; c.AuthMethods = []AuthMethod{AuthNone} },
		"public with client_credentials": func(c *Client) { c.Type = Public; c.SecretHash = ""; c.AuthMethods = []AuthMethod{AuthNone} },
		"public with basic":              func(c *Client) { c.Type = Public; c.SecretHash = ""; c.GrantTypes = nil },
		"unknown type":                   func(c *Client) { c.Type = "weird" },
		"no auth method":                 func(c *Client) { c.AuthMethods = nil },
		"code without redirect uri":      func(c *Client) { c.GrantTypes = []GrantType{GrantAuthorizationCode} },
		"default scope not allowed":      func(c *Client) { c.DefaultScopes = NewScope("b") },
		"rate without burst":             func(c *Client) { c.RateLimit = RateLimit{PerSecond: 5} },
		"burst without rate":             func(c *Client) { c.RateLimit = RateLimit{Burst: 5} },
		"negative rate":                  func(c *Client) { c.RateLimit = RateLimit{PerSecond: -1, Burst: 5} },
		"NaN rate":                       func(c *Client) { c.RateLimit = RateLimit{PerSecond: math.NaN(), Burst: 5} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := good
			mutate(&c)
			assert.Error(t, c.Validate())
		})
	}
}

func TestErrorMatching(t *testing.T) {
	err := Errorf(InvalidGrant, "expired")
	wrapped := errors.Join(errors.New("context"), err)
	assert.True(t, errors.Is(wrapped, &Error{Code: InvalidGrant}))
	assert.False(t, errors.Is(wrapped, &Error{Code: InvalidScope}))
	assert.Equal(t, InvalidGrant, CodeOf(wrapped))
	assert.Equal(t, ErrorCode(""), CodeOf(errors.New("plain")))
	assert.Equal(t, "invalid_grant: expired", err.Error())
}

func TestTokenTimes(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := AccessToken{ExpiresAt: now.Add(time.Second)}
	assert.False(t, at.Expired(now))
	assert.True(t, at.Expired(now.Add(time.Second)), "expired at exp exactly")

	rt := RefreshToken{Status: RefreshActive, ExpiresAt: now.Add(time.Hour)}
	assert.True(t, rt.Usable(now))
	assert.False(t, rt.Usable(now.Add(time.Hour)))
	rt.Status = RefreshRotated
	assert.False(t, rt.Usable(now))
}

func TestRateLimit(t *testing.T) {
	def := RateLimit{PerSecond: 10, Burst: 20}
	assert.Equal(t, def, RateLimit{}.Or(def), "zero takes the default")
	own := RateLimit{PerSecond: 1, Burst: 2}
	assert.Equal(t, own, own.Or(def))
	require.NoError(t, own.Validate())
	for _, bad := range []RateLimit{{}, {PerSecond: 1}, {Burst: 1}, {PerSecond: -1, Burst: 1},
		{PerSecond: math.Inf(1), Burst: 1}, {PerSecond: math.NaN(), Burst: 1}, {PerSecond: 1, Burst: -1},
		{PerSecond: 1, Burst: MaxRate + 1}, {PerSecond: 2e9, Burst: 1}} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
}
