package redis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/faulttest"
)

func TestCheckDurable(t *testing.T) {
	cases := []struct {
		name    string
		opts    faulttest.RedisOptions
		want    Persistence
		durable bool
	}{
		{"nothing on disk", faulttest.RedisOptions{}, Persistence{}, false},
		{"snapshots only", faulttest.RedisOptions{Args: []string{"--save", "1 1"}}, Persistence{}, false},
		{"AOF, fsync every second", faulttest.RedisOptions{AOF: true}, Persistence{AOF: true, Fsync: "everysec"}, true},
		{"AOF, fsync always", faulttest.RedisOptions{AOF: true, Args: []string{"--appendfsync", "always"}}, Persistence{AOF: true, Fsync: "always"}, true},
		{"AOF, fsync left to the kernel", faulttest.RedisOptions{AOF: true, Args: []string{"--appendfsync", "no"}}, Persistence{AOF: true, Fsync: "no"}, false},
		// Managed services often refuse CONFIG: the AOF is all there is to see.
		{"AOF, CONFIG refused", faulttest.RedisOptions{AOF: true, Args: []string{"--rename-command", "CONFIG", ""}}, Persistence{AOF: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := faulttest.StartRedis(t, tc.opts)
			s := openPrivate(t, r, time.Second)
			p, err := s.CheckDurable(context.Background())
			assert.Equal(t, tc.want, p)
			if tc.durable {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrNotDurable)
			}
		})
	}
}
