package redis

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	redisrate "github.com/go-redis/redis_rate/v10"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RateLimiter keeps request rate buckets in Redis, so that every replica
// on one Redis spends one budget per key. It uses go-redis/redis_rate: one
// Lua script per request that runs GCRA (the generic cell rate algorithm,
// a token bucket kept as a single timestamp per key), with Redis's own
// clock (TIME), so replicas whose clocks differ still agree. A bucket's
// key expires once the bucket is full again.
//
// Like every call of this store, a check is bounded by the store's timeout
// and never sent twice (go-redis's MaxRetries is -1). A check that times
// out may still run in Redis, which only spends one more request of the
// budget. What to do when Redis cannot be reached is the caller's choice
// (the HTTP edge lets the request through: see httpapi.RateLimits).
//
// redis_rate puts "rate:" in front of every key it is given, so the
// buckets live under rate:<prefix>ratelimit:<key>, the one place where this
// store's keys do not start with its prefix.
type RateLimiter struct {
	store *Store
	gcra  *redisrate.Limiter
}

// RateLimiter returns a request rate limiter kept in this store's Redis.
func (s *Store) RateLimiter() *RateLimiter {
	return &RateLimiter{store: s, gcra: redisrate.NewLimiter(s.client)}
}

// Allow takes one request from key's bucket; domain.ErrUnavailable if
// Redis cannot answer within the timeout.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit domain.RateLimit) (domain.RateDecision, error) {
	ctx, cancel := l.store.bound(ctx)
	defer cancel()
	res, err := l.gcra.Allow(ctx, l.store.rateKey(key), gcraLimit(limit))
	if err != nil {
		return domain.RateDecision{}, mapErr(err)
	}
	d := domain.RateDecision{Allowed: res.Allowed > 0, Remaining: res.Remaining, ResetAfter: max(res.ResetAfter, 0)}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, 0)
	}
	return d, nil
}

// gcraLimit says l in redis_rate's terms: Rate requests per Period. One
// request per emission interval is the same rate, fractional ones included.
func gcraLimit(l domain.RateLimit) redisrate.Limit {
	return redisrate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / l.PerSecond), Burst: l.Burst}
}

// maxRateKeyLen bounds a bucket's key: a longer one is replaced by its
// SHA-256.
const maxRateKeyLen = 128

func (s *Store) rateKey(key string) string {
	if len(key) > maxRateKeyLen {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return s.prefix + "ratelimit:" + key
}
