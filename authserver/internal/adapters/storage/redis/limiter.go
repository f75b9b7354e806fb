package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/app"
)

// Limiter counts failures per key in fixed windows, with the memory
// limiter's rules: a window starts at the first failure and lasts Window; a
// key is blocked while its window has MaxFailures failures or more.
// MaxFailures <= 0 turns it off. A window is {"failures":…,"ends_us":…};
// the key expires with the window.
type Limiter struct {
	store *Store
	cfg   app.LimitPolicy
}

// Limiter returns a failure limiter kept in this store's Redis.
func (s *Store) Limiter(cfg app.LimitPolicy) *Limiter { return &Limiter{store: s, cfg: cfg} }

type windowRecord struct {
	Failures  int   `json:"failures"`
	EndMicros int64 `json:"ends_us"`
}

// failScript counts one failure atomically: into the live window, or into
// a new one from now if there is none or it has ended by the caller's clock
// (ARGV[1] is its now, ARGV[2] the window in microseconds). The key's TTL is
// set when a window starts and kept while it fills.
var failScript = goredis.NewScript(`
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local failures, ends = 0, now + window
local cur = redis.call('GET', KEYS[1])
if cur then
	local c = cjson.decode(cur)
	if now < c.ends_us then
		failures, ends = c.failures, c.ends_us
	end
end
failures = failures + 1
local ttl = math.max(math.ceil((ends - now) / 1000), 1)
redis.call('SET', KEYS[1], string.format('{"failures":%d,"ends_us":%.0f}', failures, ends), 'PX', ttl)
return failures
`)

// Blocked reports whether key's window is live and holds MaxFailures failures
// or more.
func (l *Limiter) Blocked(ctx context.Context, key string) (bool, error) {
	if l.cfg.MaxFailures <= 0 {
		return false, nil
	}
	ctx, cancel := l.store.bound(ctx)
	defer cancel()
	v, err := l.store.client.Get(ctx, l.store.limitKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, mapErr(err)
	}
	var w windowRecord
	if err := json.Unmarshal(v, &w); err != nil {
		return false, fmt.Errorf("redis: decoding limiter window: %w", err)
	}
	return l.store.now().UnixMicro() < w.EndMicros && w.Failures >= l.cfg.MaxFailures, nil
}

// Failed counts one failure for key with failScript, atomically.
func (l *Limiter) Failed(ctx context.Context, key string) error {
	if l.cfg.MaxFailures <= 0 {
		return nil
	}
	ctx, cancel := l.store.bound(ctx)
	defer cancel()
	err := failScript.Run(ctx, l.store.client, []string{l.store.limitKey(key)},
		l.store.now().UnixMicro(), l.cfg.Window.Microseconds()).Err()
	return mapErr(err)
}
