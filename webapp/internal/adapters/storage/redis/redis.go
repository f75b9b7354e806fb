// Package redis keeps the browser's sessions, and the claims of completed
// sign-ins, in Redis, so that several webapp replicas share them: a user
// signed in on one is signed in on all.
//
// Expiry is judged by the injected clock, not by Redis's: each entry holds
// its own expiry, the scripts compare it with the caller's now, and a key's
// TTL is computed as expiry - now so that Redis reclaims it about when it
// stops mattering. Tests can therefore move time without sleeping.
//
// Keys, under the configured prefix (h is the hex SHA-256 of a session id,
// a state or a subject, so that no cookie value or user id is a key name):
//
//	session:<h>  hash: rec (the session as JSON), ver (bumped by every
//	             update), exp (expiry, Unix µs), user (the subject's h)
//	lock:<h>     the token of the Update or Delete that holds the session,
//	             with a lease (PX)
//	user:<h>     sorted set of a user's session hashes by creation time
//	sessions     sorted set of every session hash by expiry: the count the
//	             store's capacity bounds
//	claim:<h>    a completed sign-in's claim: its expiry, Unix µs
//
// The scripts name keys they build from the prefix, which a Redis Cluster
// would refuse: the store needs one Redis (with replicas if wanted), as
// go-redis's Client speaks to.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/pkg/redisconn"
	"github.com/oauth2ref/pkg/redisoutage"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// URL is a redis://, rediss:// or unix:// URL, e.g.
	// redis://:password@host:6379/0.
	URL string
	// KeyPrefix namespaces every key; DefaultKeyPrefix if empty.
	KeyPrefix string
	// Timeout bounds each call as a whole: getting a connection (dialling
	// if need be), writing the command and reading the answer.
	// DefaultTimeout if zero; set here it wins over the URL's read_timeout.
	Timeout time.Duration
	// LockLease is how long an Update or Delete holds a session before
	// another may take it even if the first has not let go (it crashed, or
	// lost its way to Redis). It must be longer than any fn passed to
	// Update runs. DefaultLockLease if zero.
	LockLease time.Duration
	// Capacity is the most sessions in all (app.DefaultMaxSessions if zero).
	Capacity int
	// PerUser is the most sessions of one user (app.DefaultSessionsPerUser
	// if zero).
	PerUser int
}

// Defaults of a zero Config.
const (
	DefaultKeyPrefix = "webapp:"
	DefaultTimeout   = time.Second
	DefaultLockLease = 10 * time.Second
)

// Store is a Redis app.SessionStore and app.LoginClaimStore. It is safe for
// concurrent use, by several processes too.
type Store struct {
	conn     redisconn.Conn
	client   *goredis.Client // conn's
	prefix   string
	now      func() time.Time
	lease    time.Duration
	capacity int
	perUser  int
}

var (
	_ app.SessionStore    = (*Store)(nil)
	_ app.LoginClaimStore = (*Store)(nil)
)

// New returns a store on the Redis cfg names, without calling it: a Redis
// that is not up yet fails each call with a domain.Unavailable error until
// it is, and the store recovers by itself. now is the clock used to judge
// expiry (time.Now if nil).
func New(cfg Config, now func() time.Time) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("redis: URL is required")
	}
	if now == nil {
		now = time.Now
	}
	// A call that timed out may still run: the scripts that must not take
	// effect late (creating a session, taking a lock, claiming a sign-in)
	// refuse to run after their caller's deadline.
	conn, err := redisconn.New(cfg.URL, cfg.Timeout, DefaultTimeout, 0)
	if err != nil {
		return nil, err
	}
	return &Store{
		conn:     conn,
		client:   conn.Client,
		prefix:   cmpOr(cfg.KeyPrefix, DefaultKeyPrefix),
		now:      now,
		lease:    cmpOr(cfg.LockLease, DefaultLockLease),
		capacity: cmpOr(cfg.Capacity, app.DefaultMaxSessions),
		perUser:  cmpOr(cfg.PerUser, app.DefaultSessionsPerUser),
	}, nil
}

// cmpOr is the first of vs that is positive (or non-empty), else the last.
func cmpOr[T int | time.Duration | string](vs ...T) T {
	var zero T
	for _, v := range vs[:len(vs)-1] {
		if v > zero {
			return v
		}
	}
	return vs[len(vs)-1]
}

// Prefix is the prefix of every key the store uses.
func (s *Store) Prefix() string { return s.prefix }

// Close closes the connections. Calls after Close fail with a
// domain.Unavailable error.
func (s *Store) Close() { s.conn.Close() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return mapErr(s.conn.Ping(ctx))
}

// bound limits a call as a whole: Config.Timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return s.conn.Bound(ctx)
}

// hashOf names a secret or an identifier in a key without giving it away.
func hashOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// The key spaces.
func (s *Store) sessionKey(h string) string { return s.prefix + "session:" + h }
func (s *Store) lockKey(h string) string    { return s.prefix + "lock:" + h }
func (s *Store) userKey(h string) string    { return s.prefix + "user:" + h }
func (s *Store) allKey() string             { return s.prefix + "sessions" }
func (s *Store) claimKey(h string) string   { return s.prefix + "claim:" + h }

// minTTL is the shortest life a key gets, so that an entry stored already
// expired by the store's clock is still there to be judged by it.
const minTTL = time.Second

// ttlUntil is how long a key must live, in milliseconds, for an entry that
// matters until t by the store's clock.
func (s *Store) ttlUntil(t time.Time) int64 {
	return max(t.Sub(s.now()), minTTL).Milliseconds()
}

// micros is t as the scripts compare times: Unix microseconds.
func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// lateCheck refuses a script that runs after its caller's deadline
// (ARGV[1], Unix microseconds, by the caller's clock; Redis's own must
// agree, as NTP makes it): the caller has given up and answered 503, so
// the script must not take effect behind its back.
const lateCheck = `
local t = redis.call('TIME')
if tonumber(t[1]) * 1000000 + tonumber(t[2]) > tonumber(ARGV[1]) then
	return redis.error_reply('LATE the caller gave up on this call')
end
`

// deadline is ctx's deadline for lateCheck.
func deadline(ctx context.Context) string {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(time.Hour)
	}
	return micros(d)
}

// mapErr turns a go-redis error into the webapp's: a Redis that is down,
// unreachable, too slow (or a caller that gave up), loading, read-only or
// out of clients is a domain.Unavailable error naming the session store, a
// fast 503 at the edge; anything else (a bug) is wrapped as it is. The
// cause stays wrapped, for the logs.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case unavailable(err):
		return &domain.Error{Code: domain.Unavailable, Service: domain.SessionStorage,
			Description: "the session store did not answer in time", Err: err}
	}
	return fmt.Errorf("redis: %w", err)
}

// unavailable: an outage, or a call given up on (its caller's context
// canceled) that is answered as one.
func unavailable(err error) bool {
	return redisoutage.Is(err) || errors.Is(err, context.Canceled)
}
