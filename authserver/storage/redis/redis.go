// Package redis keeps the data groups whose entries expire in Redis:
// authorization codes, sessions, revocation marks and login failure
// counters. Values are JSON; every key carries the configured prefix.
//
// Expiry is judged by the injected clock, not by Redis's: each value holds
// its own expiry, the checks compare it with now() in Go or in a script, and
// a key's TTL is computed as expiry - now() so that Redis reclaims it about
// when it stops mattering. Tests can therefore move time without sleeping,
// and replicas whose clocks differ slightly from Redis's agree.
package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// URL is a redis://, rediss:// or unix:// URL, e.g.
	// redis://:password@host:6379/0 or unix:///run/redis.sock?db=0.
	URL string
	// KeyPrefix namespaces every key; default "authserver:".
	KeyPrefix string
	// Timeout bounds each call as a whole: getting a connection (dialling
	// if need be), writing the command and reading the answer. 1s by
	// default, so that a Redis that is down or hung fails a request fast.
	// Set here it wins over the URL's read_timeout.
	Timeout time.Duration
	// PoolSize is go-redis's default (10 per CPU) if zero.
	PoolSize int
}

// Defaults of a zero Config.
const (
	DefaultKeyPrefix = "authserver:"
	DefaultTimeout   = time.Second
)

// Store is a Redis store of the expiring data groups.
type Store struct {
	client *goredis.Client
	prefix string
	now    func() time.Time
	// opTimeout bounds each call as a whole.
	opTimeout time.Duration
}

// Open connects to Redis and checks that it answers. now is the clock used
// to judge expiry. A Redis that cannot be reached gives an error that
// matches domain.ErrUnavailable.
func Open(ctx context.Context, cfg Config, now func() time.Time) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("redis: URL is required")
	}
	if now == nil {
		now = time.Now
	}
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		// The message of a parse error can quote the URL, password and all.
		return nil, errors.New("redis: the URL cannot be parsed")
	}
	// Each call runs under a context that ends after the timeout (bound),
	// and go-redis honours it at every step. The socket timeouts are the
	// same, so none of them can outlast the call either.
	opTimeout := timeout(cfg.Timeout, opt.ReadTimeout)
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = opTimeout, opTimeout, opTimeout
	if cfg.PoolSize > 0 {
		opt.PoolSize = cfg.PoolSize
	}
	// No retries. A command that timed out may still run: Redis may only
	// have been slow, and runs it when it wakes up. Sent again, a
	// non-idempotent script would run twice (a code redeemed by the retry
	// of its own first exchange, one failed login counted twice), and a
	// retry would also stretch the call past the timeout. A caller that
	// gets domain.ErrUnavailable decides itself what is safe to repeat.
	opt.MaxRetries = -1
	// One dial per attempt: go-redis's own dial retries (5, 100ms apart)
	// would make a down Redis slow to report.
	opt.DialerRetries = 1
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	s := &Store{
		client:    goredis.NewClient(opt),
		prefix:    prefix,
		now:       now,
		opTimeout: opTimeout,
	}
	if err := s.Ping(ctx); err != nil {
		_ = s.client.Close()
		return nil, err
	}
	return s, nil
}

// timeout is the configured value, else the URL's, else the default.
func timeout(configured, fromURL time.Duration) time.Duration {
	switch {
	case configured > 0:
		return configured
	case fromURL > 0:
		return fromURL
	}
	return DefaultTimeout
}

// Close closes the connections. Calls after Close fail with
// domain.ErrUnavailable.
func (s *Store) Close() { _ = s.client.Close() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.client.Ping(ctx).Err())
}

// bound limits a call as a whole: Config.Timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

// The key spaces.
func (s *Store) codeKey(hash string) string       { return s.prefix + "code:" + hash }
func (s *Store) sessionKey(hash string) string    { return s.prefix + "session:" + hash }
func (s *Store) userSessionsKey(id string) string { return s.prefix + "user-sessions:" + id }
func (s *Store) revokedKey(id string) string      { return s.prefix + "revoked:" + id }
func (s *Store) limitKey(key string) string       { return s.prefix + "limit:" + key }

// minTTL is the shortest life a key gets, so that an entry stored already
// expired can still be read back right away, as from the memory store.
const minTTL = time.Second

// ttlUntil is how long a key must live for an entry that matters until t,
// by the store's clock.
func (s *Store) ttlUntil(t time.Time) time.Duration {
	return max(t.Sub(s.now()), minTTL)
}
