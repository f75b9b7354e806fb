package memory

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/oauth2ref/authserver/internal/domain"
)

// RateLimiter keeps a token bucket (golang.org/x/time/rate) per key, in
// this process only: each replica has budgets of its own. The caller
// chooses the keys (source addresses, client ids), so the map is bounded
// twice over:
//
//   - Key length: a key longer than MaxRateKeyLen is replaced by its
//     SHA-256, so no key costs more than that.
//   - Count: at most maxKeys buckets. A new key that finds its shard full
//     first drops every full bucket there (a full bucket allows exactly
//     what a new one would, so dropping it loses nothing); if that frees
//     less than an eighth of the shard, arbitrary buckets go too, down to
//     seven eighths. The sweep that does this runs at most once per eighth
//     of a shard's new keys, so a flood of distinct keys costs amortised
//     constant time per request and never more memory.
//
// The price of the second rule: someone who floods more distinct keys than
// the cap within a bucket's refill time can make the limiter forget
// partly spent buckets, each of which then starts full again: at most one
// extra burst per forgotten key. The keys at stake are source addresses (an
// IPv6 /64 counts as one) and authenticated client ids; X-Forwarded-For is
// only believed from trusted proxies. So flooding the cap takes tens of
// thousands of real addresses, an attack a per-address limit cannot stop
// anyway, while a single address or client cannot get past its budget.
type RateLimiter struct {
	now    func() time.Time
	seed   maphash.Seed
	perCap int // buckets per shard
	shards [rateShards]rateShard
}

// rateShards splits the buckets so that requests on different keys rarely
// wait on one lock, and a sweep holds up only a sixteenth of them.
const rateShards = 16

type rateShard struct {
	mu      sync.Mutex
	buckets map[string]bucket
}

// bucket is a key's token bucket and the limit it was last given.
type bucket struct {
	*rate.Limiter
	limit domain.RateLimit
}

// MaxRateKeyLen is the longest key kept as it is.
const MaxRateKeyLen = 128

// NewRateLimiter returns a limiter of at most maxKeys buckets (at least one
// per shard). now is its clock.
func NewRateLimiter(maxKeys int, now func() time.Time) *RateLimiter {
	l := &RateLimiter{now: now, seed: maphash.MakeSeed(), perCap: max(maxKeys/rateShards, 1)}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]bucket)
	}
	return l
}

// Allow takes one request from key's bucket, creating the bucket (full)
// if there is none. A bucket whose limit changed since (a client's rate was
// edited) takes the new one from now on. It never fails.
func (l *RateLimiter) Allow(_ context.Context, key string, limit domain.RateLimit) (domain.RateDecision, error) {
	key = boundKey(key)
	now := l.now()
	sh := &l.shards[maphash.String(l.seed, key)%rateShards]
	r := rate.Limit(limit.PerSecond)

	sh.mu.Lock()
	b, found := sh.buckets[key]
	switch {
	case !found:
		if len(sh.buckets) >= l.perCap {
			sh.evict(now, l.perCap)
		}
		b = bucket{Limiter: rate.NewLimiter(r, limit.Burst), limit: limit}
		sh.buckets[key] = b
	case b.limit != limit:
		b.SetLimitAt(now, r)
		b.SetBurstAt(now, limit.Burst)
		b.limit = limit
		sh.buckets[key] = b
	}
	ok := b.AllowN(now, 1)
	tokens := b.TokensAt(now)
	sh.mu.Unlock()

	d := domain.RateDecision{
		Allowed:    ok,
		Remaining:  int(math.Max(math.Floor(tokens), 0)),
		ResetAfter: tokensTime(float64(limit.Burst)-tokens, limit.PerSecond),
	}
	if !ok {
		d.RetryAfter = tokensTime(1-tokens, limit.PerSecond)
	}
	return d, nil
}

// tokensTime is how long it takes to earn n tokens at perSecond.
func tokensTime(n, perSecond float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(n / perSecond * float64(time.Second)))
}

// evict makes room in a full shard: first every full bucket, then, if that
// was not an eighth of it, whichever buckets the map yields first.
func (sh *rateShard) evict(now time.Time, limit int) {
	for k, b := range sh.buckets {
		if b.TokensAt(now) >= float64(b.limit.Burst) {
			delete(sh.buckets, k)
		}
	}
	low := limit - max(limit/8, 1)
	for k := range sh.buckets {
		if len(sh.buckets) <= low {
			break
		}
		delete(sh.buckets, k)
	}
}

// Sweep drops every full bucket: idle keys give their memory back.
func (l *RateLimiter) Sweep(context.Context) error {
	now := l.now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, b := range sh.buckets {
			if b.TokensAt(now) >= float64(b.limit.Burst) {
				delete(sh.buckets, k)
			}
		}
		sh.mu.Unlock()
	}
	return nil
}

// Len is how many buckets the limiter holds.
func (l *RateLimiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}

// boundKey is key, or its SHA-256 when it is longer than MaxRateKeyLen.
func boundKey(key string) string {
	if len(key) <= MaxRateKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + base64.RawURLEncoding.EncodeToString(sum[:])
}
