package authserver_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/authserver/internal/faulttest"
	"github.com/oauth2ref/authserver/storage"
)

// revocationsIn places the revocations group in the given Redis, the rest
// in memory.
func revocationsIn(r *faulttest.Redis) storage.Config {
	return storage.Config{
		Groups: map[storage.Group]storage.Backend{storage.Revocations: storage.Redis},
		Redis:  storage.RedisConfig{URL: r.URL(), Timeout: time.Second},
	}
}

// A Redis that keeps nothing across a restart would bring revoked tokens
// back to life: the stores refuse to open on one, and say what to do.
func TestRevocationsNeedARedisThatPersists(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string]faulttest.RedisOptions{
		"no AOF":                 {},
		"AOF, appendfsync no":    {AOF: true, Args: []string{"--appendfsync", "no"}},
		"RDB snapshots, not AOF": {Args: []string{"--save", "1 1"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := storage.Open(ctx, revocationsIn(faulttest.StartRedis(t, opts)), storage.Env{})
			require.Error(t, err)
			assert.ErrorContains(t, err, "put revocations in postgres, or run Redis with appendonly yes and appendfsync everysec")
		})
	}

	t.Run("other groups may use it", func(t *testing.T) {
		r := faulttest.StartRedis(t, faulttest.RedisOptions{})
		set, err := storage.Open(ctx, storage.Config{
			Groups: map[storage.Group]storage.Backend{storage.Codes: storage.Redis, storage.Sessions: storage.Redis, storage.RateLimits: storage.Redis},
			Redis:  storage.RedisConfig{URL: r.URL()},
		}, storage.Env{})
		require.NoError(t, err)
		set.Close()
	})

	t.Run("CONFIG refused: the AOF is enough, with a warning", func(t *testing.T) {
		r := faulttest.StartRedis(t, faulttest.RedisOptions{AOF: true, Args: []string{"--rename-command", "CONFIG", ""}})
		core, logs := observer.New(zap.WarnLevel)
		set, err := storage.Open(ctx, revocationsIn(r), storage.Env{Log: zap.New(core)})
		require.NoError(t, err)
		set.Close()
		assert.Equal(t, 1, logs.FilterMessageSnippet("appendfsync could not be checked").Len(), "%v", logs.All())
	})
}

// Revocations kept in a Redis with an AOF survive its restart, graceful or
// kill -9: a revoked token never comes back to life.
func TestRevocationsSurviveARedisRestart(t *testing.T) {
	r := faulttest.StartRedis(t, faulttest.RedisOptions{AOF: true})
	ts := start(t, placed(t, revocationsIn(r)))
	tok := ts.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, tok.status, tok.raw)
	access := tok.body["access_token"].(string)
	introspect := func() reply {
		return ts.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
	}
	require.Equal(t, true, introspect().body["active"])
	require.Equal(t, 200, ts.post(t, "/oauth/revoke", url.Values{"token": {access}}, "service", serviceSecret).status)
	require.JSONEq(t, `{"active":false}`, introspect().raw)

	for _, restart := range []struct {
		name string
		do   func()
	}{
		{"graceful", func() { r.Stop(); r.Start() }},
		// appendfsync everysec: what was written a second ago is on disk.
		{"kill -9", func() { time.Sleep(1100 * time.Millisecond); r.Kill(); r.Start() }},
	} {
		restart.do()
		// The first calls may meet connections the restart broke (a fast
		// 503); none may find the token active.
		assert.Eventually(t, func() bool {
			got := introspect()
			assert.NotEqual(t, true, got.body["active"], "%s: the revoked token came back to life", restart.name)
			return got.status == 200
		}, 10*time.Second, 50*time.Millisecond, restart.name)
		assert.JSONEq(t, `{"active":false}`, introspect().raw, restart.name)
	}
}
