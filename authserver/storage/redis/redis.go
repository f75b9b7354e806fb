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

	"github.com/oauth2ref/pkg/redisconn"
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
	conn   redisconn.Conn
	client *goredis.Client // conn's
	prefix string
	now    func() time.Time
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
	conn, err := redisconn.New(cfg.URL, cfg.Timeout, DefaultTimeout, cfg.PoolSize)
	if err != nil {
		return nil, err
	}
	prefix := cfg.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	s := &Store{
		conn:   conn,
		client: conn.Client,
		prefix: prefix,
		now:    now,
	}
	if err := s.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connections. Calls after Close fail with
// domain.ErrUnavailable.
func (s *Store) Close() { s.conn.Close() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr(s.conn.Ping(ctx))
}

// bound limits a call as a whole: Config.Timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.conn.Bound(ctx)
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
