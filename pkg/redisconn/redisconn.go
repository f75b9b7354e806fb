// Package redisconn makes the Redis client both services use, with the one
// policy they need: every call bounded by a single deadline, and never sent
// twice.
package redisconn

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Conn is a go-redis client whose calls are each bounded by Timeout.
type Conn struct {
	Client *goredis.Client
	// Timeout bounds each call as a whole: getting a connection (dialling
	// if need be), writing the command and reading the answer.
	Timeout time.Duration
}

// New returns a client of the Redis url names, without calling it. The
// timeout is timeout if positive, else the URL's read_timeout, else
// fallback; poolSize is go-redis's default if zero.
func New(url string, timeout, fallback time.Duration, poolSize int) (Conn, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		// The message of a parse error can quote the URL, password and all.
		return Conn{}, errors.New("redis: the URL cannot be parsed")
	}
	switch {
	case timeout > 0:
	case opt.ReadTimeout > 0:
		timeout = opt.ReadTimeout
	default:
		timeout = fallback
	}
	// Each call runs under a context that ends after the timeout (Bound),
	// and go-redis honours it at every step. The socket timeouts are the
	// same, so none of them can outlast the call either.
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	// No retries. A command that timed out may still run: Redis may only
	// have been slow, and runs it when it wakes up. Sent again, a
	// non-idempotent script would run twice, and a retry would also
	// stretch the call past the timeout. A caller told of an outage
	// decides itself what is safe to repeat.
	opt.MaxRetries = -1
	// One dial per attempt: go-redis's own dial retries (5, 100ms apart)
	// would make a down Redis slow to report.
	opt.DialerRetries = 1
	return Conn{Client: goredis.NewClient(opt), Timeout: timeout}, nil
}

// Bound limits a call as a whole: Timeout.
func (c Conn) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.Timeout)
}

// Ping checks that Redis answers within Timeout.
func (c Conn) Ping(ctx context.Context) error {
	ctx, cancel := c.Bound(ctx)
	defer cancel()
	return c.Client.Ping(ctx).Err()
}

// Close closes the connections; calls after it fail with
// goredis.ErrClosed.
func (c Conn) Close() { _ = c.Client.Close() }
