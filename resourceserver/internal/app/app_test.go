package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// fakeVerifier answers with whatever its function says.
type fakeVerifier struct {
	verify func(ctx context.Context, token string) (domain.Token, error)
	calls  int
}

func (f *fakeVerifier) VerifyToken(ctx context.Context, token string) (domain.Token, error) {
	f.calls++
	return f.verify(ctx, token)
}

var _ app.TokenVerifier = (*fakeVerifier)(nil)

func TestAuthenticate(t *testing.T) {
	good := domain.Token{ClientID: "1234", Subject: "alice", Scope: []string{"current_time"}, Audience: []string{"other", "resourceserver"}, TokenType: "Bearer"}
	with := func(f func(*domain.Token)) domain.Token {
		tok := good
		f(&tok)
		return tok
	}
	cases := []struct {
		name     string
		audience string
		answer   domain.Token
		err      error
		wantErr  error
	}{
		{name: "active token for us", audience: "resourceserver", answer: good},
		{name: "no audience configured accepts any", audience: "", answer: with(func(t *domain.Token) { t.Audience = nil })},
		{name: "token type case-insensitive", audience: "resourceserver", answer: with(func(t *domain.Token) { t.TokenType = "bearer" })},
		{name: "token type unstated", audience: "resourceserver", answer: with(func(t *domain.Token) { t.TokenType = "" })},
		{name: "other audience", audience: "resourceserver", answer: with(func(t *domain.Token) { t.Audience = []string{"other"} }), wantErr: domain.ErrTokenInactive},
		{name: "no audience in token", audience: "resourceserver", answer: with(func(t *domain.Token) { t.Audience = nil }), wantErr: domain.ErrTokenInactive},
		{name: "audience is compared exactly", audience: "resourceserver", answer: with(func(t *domain.Token) { t.Audience = []string{"ResourceServer"} }), wantErr: domain.ErrTokenInactive},
		{name: "not a bearer token", audience: "resourceserver", answer: with(func(t *domain.Token) { t.TokenType = "DPoP" }), wantErr: domain.ErrTokenInactive},
		{name: "inactive", audience: "resourceserver", err: domain.ErrTokenInactive, wantErr: domain.ErrTokenInactive},
		{name: "unavailable passes through", audience: "resourceserver", err: fmt.Errorf("%w: boom", domain.ErrUnavailable), wantErr: domain.ErrUnavailable},
		{name: "rejected passes through", audience: "resourceserver", err: fmt.Errorf("%w: 401", domain.ErrCredentialsRejected), wantErr: domain.ErrCredentialsRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotToken string
			v := &fakeVerifier{verify: func(_ context.Context, token string) (domain.Token, error) {
				gotToken = token
				return tc.answer, tc.err
			}}
			got, err := app.NewAuthenticator(v, tc.audience).Authenticate(context.Background(), "tok")
			assert.Equal(t, "tok", gotToken)
			assert.Equal(t, 1, v.calls)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, domain.Token{}, got, "nothing of a refused token is returned")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.answer, got)
		})
	}
}

func TestAuthenticateAsksEveryTime(t *testing.T) {
	active := true
	v := &fakeVerifier{verify: func(context.Context, string) (domain.Token, error) {
		if active {
			return domain.Token{Audience: []string{"rs"}}, nil
		}
		return domain.Token{}, domain.ErrTokenInactive
	}}
	a := app.NewAuthenticator(v, "rs")
	_, err := a.Authenticate(context.Background(), "t")
	require.NoError(t, err)
	active = false // revoked at the authorization server
	_, err = a.Authenticate(context.Background(), "t")
	assert.ErrorIs(t, err, domain.ErrTokenInactive, "a revoked token is refused at once: no caching")
	assert.Equal(t, 2, v.calls)
}

func TestRequireScope(t *testing.T) {
	cases := []struct {
		name  string
		have  []string
		need  string
		allow bool
	}{
		{"granted", []string{"current_time", "epoch_time"}, "epoch_time", true},
		{"only the other one", []string{"current_time"}, "epoch_time", false},
		{"none", nil, "current_time", false},
		{"prefix is not a match", []string{"current_time_extra"}, "current_time", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := app.RequireScope(domain.Token{Scope: tc.have}, tc.need)
			if tc.allow {
				assert.NoError(t, err)
				return
			}
			var se *domain.ScopeError
			require.True(t, errors.As(err, &se), "got %v", err)
			assert.Equal(t, tc.need, se.Scope, "the error names the scope that was needed")
		})
	}
}

func TestTimeUseCases(t *testing.T) {
	// A non-UTC clock shows that CurrentTime normalises the zone.
	fixed := time.Date(2024, 2, 29, 13, 14, 15, 999_000_000, time.FixedZone("X", 3600))
	clock := func() time.Time { return fixed }

	ct := app.NewCurrentTime(clock).Handle()
	assert.Equal(t, time.UTC, ct.Location())
	assert.True(t, ct.Equal(fixed))
	assert.Equal(t, "2024-02-29T12:14:15Z", ct.Format(time.RFC3339))

	assert.Equal(t, int64(1709208855), app.NewEpochTime(clock).Handle(), "whole seconds, rounded down")
}
