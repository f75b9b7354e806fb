package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/domain"
)

func TestSecretNeverPrints(t *testing.T) {
	creds := domain.Credentials{Username: "alice", Password: "hunter2"}
	js, err := json.Marshal(creds)
	require.NoError(t, err)
	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", creds),
		"%+v":  fmt.Sprintf("%+v", creds),
		"%#v":  fmt.Sprintf("%#v", creds),
		"%s":   fmt.Sprintf("%s", creds.Password), //nolint:staticcheck // S1025: %s formatting is what is under test
		"json": string(js),
	} {
		assert.NotContains(t, out, "hunter2", name)
		assert.Contains(t, out, "[redacted]", name)
	}
	assert.Equal(t, "hunter2", string(creds.Password), "the value is there for whoever converts it")
}

func TestCredentialsValidate(t *testing.T) {
	cases := []struct {
		name  string
		creds domain.Credentials
		ok    bool
	}{
		{"both given", domain.Credentials{Username: "alice", Password: "pw"}, true},
		{"no username", domain.Credentials{Password: "pw"}, false},
		{"no password", domain.Credentials{Username: "alice"}, false},
		{"nothing", domain.Credentials{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.creds.Validate()
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
		})
	}
}

func TestTimeKind(t *testing.T) {
	assert.True(t, domain.CurrentTime.Valid())
	assert.True(t, domain.EpochTime.Valid())
	assert.False(t, domain.TimeKind("now").Valid())
	assert.Equal(t, "current_time", domain.CurrentTime.Scope())
	assert.Equal(t, "epoch_time", domain.EpochTime.Scope())
}

func TestErrorMatching(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	err := fmt.Errorf("fetch: %w", &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer, Description: "down", Err: cause})

	assert.ErrorIs(t, err, &domain.Error{Code: domain.Unavailable})
	assert.ErrorIs(t, err, &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer})
	assert.NotErrorIs(t, err, &domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer})
	assert.NotErrorIs(t, err, &domain.Error{Code: domain.BadGateway})
	assert.ErrorIs(t, err, cause, "the cause stays reachable for the logs")
	assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
	assert.Equal(t, domain.AuthServer, domain.ServiceOf(err))
	assert.Equal(t, "authserver: unavailable: down: dial tcp: refused", errors.Unwrap(err).Error())
	assert.Equal(t, domain.ErrorCode(""), domain.CodeOf(cause))
	assert.Equal(t, domain.Service(""), domain.ServiceOf(cause))
}
