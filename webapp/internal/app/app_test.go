package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// Function-field fakes: each test says what the service does, and records
// what it was asked.
type fakeTokens struct {
	fn func(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error)
}

func (f fakeTokens) Token(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error) {
	return f.fn(ctx, creds, scope)
}

type fakeTimes struct {
	fn func(ctx context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error)
}

func (f fakeTimes) ReadTime(ctx context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error) {
	return f.fn(ctx, token, kind)
}

var alice = domain.Credentials{Username: "alice", Password: "alice-password"}

func TestFetchTime(t *testing.T) {
	answerFor := func(kind domain.TimeKind) domain.TimeAnswer {
		return domain.TimeAnswer{Kind: kind, Time: time.Unix(1700000000, 0), Raw: []byte(`{"x":1}`)}
	}
	refused := &domain.Error{Code: domain.InvalidCredentials, Service: domain.AuthServer, Description: "wrong username or password"}
	authDown := &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer}
	rsBad := &domain.Error{Code: domain.NotGranted, Service: domain.ResourceServer}

	cases := []struct {
		name      string
		creds     domain.Credentials
		which     domain.TimeKind
		token     domain.Secret
		tokenErr  error
		timesErr  error
		wantScope string // "" means Token must not be called
		wantRead  bool
		wantCode  domain.ErrorCode
		wantSvc   domain.Service
		wantErr   error
	}{
		{name: "current time asks only for its scope", creds: alice, which: domain.CurrentTime, token: "tok-1",
			wantScope: "current_time", wantRead: true},
		{name: "epoch time asks only for its scope", creds: alice, which: domain.EpochTime, token: "tok-2",
			wantScope: "epoch_time", wantRead: true},
		{name: "unknown kind is refused before login", creds: alice, which: "now", wantCode: domain.InvalidRequest},
		{name: "empty username is refused before login", creds: domain.Credentials{Password: "pw"}, which: domain.CurrentTime,
			wantCode: domain.InvalidRequest},
		{name: "empty password is refused before login", creds: domain.Credentials{Username: "alice"}, which: domain.CurrentTime,
			wantCode: domain.InvalidRequest},
		{name: "refused credentials stop before the resource server", creds: alice, which: domain.CurrentTime, tokenErr: refused,
			wantScope: "current_time", wantErr: refused},
		{name: "authserver down stops before the resource server", creds: alice, which: domain.EpochTime, tokenErr: authDown,
			wantScope: "epoch_time", wantErr: authDown},
		{name: "empty token blames the authserver", creds: alice, which: domain.CurrentTime, token: "",
			wantScope: "current_time", wantCode: domain.BadGateway, wantSvc: domain.AuthServer},
		{name: "resource server failure is passed on", creds: alice, which: domain.CurrentTime, token: "tok-3", timesErr: rsBad,
			wantScope: "current_time", wantRead: true, wantErr: rsBad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotScope string
			var gotCreds domain.Credentials
			tokenCalls, readCalls := 0, 0
			var gotToken domain.Secret
			var gotKind domain.TimeKind
			a := app.New(
				fakeTokens{fn: func(_ context.Context, creds domain.Credentials, scope string) (domain.Secret, error) {
					tokenCalls++
					gotCreds, gotScope = creds, scope
					return tc.token, tc.tokenErr
				}},
				fakeTimes{fn: func(_ context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error) {
					readCalls++
					gotToken, gotKind = token, kind
					if tc.timesErr != nil {
						return domain.TimeAnswer{}, tc.timesErr
					}
					return answerFor(kind), nil
				}},
			)

			ans, err := a.FetchTime(context.Background(), tc.creds, tc.which)

			if tc.wantScope == "" {
				assert.Zero(t, tokenCalls, "no login")
			} else {
				require.Equal(t, 1, tokenCalls, "exactly one fresh login per call")
				assert.Equal(t, tc.wantScope, gotScope)
				assert.Equal(t, tc.creds, gotCreds)
			}
			if tc.wantRead {
				require.Equal(t, 1, readCalls)
				assert.Equal(t, tc.token, gotToken, "the token just issued is the one used")
				assert.Equal(t, tc.which, gotKind)
			} else {
				assert.Zero(t, readCalls, "resource server not called")
			}

			switch {
			case tc.wantErr != nil:
				assert.Same(t, tc.wantErr, err, "upstream errors pass through unchanged")
			case tc.wantCode != "":
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, domain.CodeOf(err))
				assert.Equal(t, tc.wantSvc, domain.ServiceOf(err))
			default:
				require.NoError(t, err)
				assert.Equal(t, answerFor(tc.which), ans)
			}
		})
	}
}

func TestLoginNeverReusesATokenAcrossCalls(t *testing.T) {
	n := 0
	a := app.New(fakeTokens{fn: func(context.Context, domain.Credentials, string) (domain.Secret, error) {
		n++
		return domain.Secret([]string{"", "first", "second"}[n]), nil
	}}, nil)
	first, err := a.Login(context.Background(), alice, "current_time")
	require.NoError(t, err)
	second, err := a.Login(context.Background(), alice, "current_time")
	require.NoError(t, err)
	assert.Equal(t, domain.Secret("first"), first)
	assert.Equal(t, domain.Secret("second"), second)
	assert.Equal(t, 2, n)
}

func TestFetchTimePassesContextOn(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var seen []any
	a := app.New(
		fakeTokens{fn: func(ctx context.Context, _ domain.Credentials, _ string) (domain.Secret, error) {
			seen = append(seen, ctx.Value(key{}))
			return "tok", nil
		}},
		fakeTimes{fn: func(ctx context.Context, _ domain.Secret, k domain.TimeKind) (domain.TimeAnswer, error) {
			seen = append(seen, ctx.Value(key{}))
			return domain.TimeAnswer{Kind: k}, nil
		}},
	)
	_, err := a.FetchTime(ctx, alice, domain.CurrentTime)
	require.NoError(t, err)
	assert.Equal(t, []any{"v", "v"}, seen, "cancellation and deadlines reach both upstream calls")
}
