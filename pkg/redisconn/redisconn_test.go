package redisconn_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/redisconn"
)

func TestTimeoutPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration
		want    time.Duration
	}{
		{"configured wins", "redis://127.0.0.1:6379/0?read_timeout=3s", 2 * time.Second, 2 * time.Second},
		{"then the URL's", "redis://127.0.0.1:6379/0?read_timeout=3s", 0, 3 * time.Second},
		{"then the fallback", "redis://127.0.0.1:6379/0", 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redisconn.New(tc.url, tc.timeout, time.Second, 0)
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, tc.want, c.Timeout)
			opt := c.Client.Options()
			assert.Equal(t, tc.want, opt.ReadTimeout, "the socket cannot outlast the call")
			// go-redis stores the -1 New sets (no retries) as 0.
			assert.Zero(t, opt.MaxRetries, "a call is never sent twice")
		})
	}
}

func TestBadURLKeepsItsSecret(t *testing.T) {
	_, err := redisconn.New("redis://:hunter2@[::1", 0, time.Second, 0)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

// A Redis that accepts the connection and never answers fails a call
// within the timeout, not go-redis's defaults.
func TestStalledRedisFailsWithinTimeout(t *testing.T) {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never answered
		}
	}()
	c, err := redisconn.New("redis://"+ln.Addr().String()+"/0", 200*time.Millisecond, time.Second, 0)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	err = c.Ping(context.Background())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "bounded by the timeout (with room for a loaded machine)")
}
