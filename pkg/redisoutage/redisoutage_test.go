package redisoutage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// reply is an error reply from Redis, as go-redis returns it.
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestIs(t *testing.T) {
	outages := map[string]error{
		"deadline":          fmt.Errorf("get: %w", context.DeadlineExceeded),
		"closed client":     goredis.ErrClosed,
		"pool timeout":      goredis.ErrPoolTimeout,
		"refused":           &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		"reset":             fmt.Errorf("read: %w", syscall.ECONNRESET),
		"cut mid-reply":     io.ErrUnexpectedEOF,
		"loading":           reply("LOADING Redis is loading the dataset in memory"),
		"read-only replica": reply("READONLY You can't write against a read only replica."),
		"too many clients":  reply("ERR max number of clients reached"),
		"late script":       reply("LATE the caller's deadline has passed"),
	}
	for name, err := range outages {
		assert.True(t, Is(err), name)
	}
	answers := map[string]error{
		"no such key":  goredis.Nil,
		"wrong type":   reply("WRONGTYPE Operation against a key holding the wrong kind of value"),
		"script error": reply("ERR Error running script"),
		"canceled":     context.Canceled, // the caller left; Redis is fine
		"other":        errors.New("boom"),
		"nil":          nil,
	}
	for name, err := range answers {
		assert.False(t, Is(err), name)
	}
}
