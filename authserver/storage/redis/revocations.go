package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Revocations. A mark is {"at_us":…,"until_us":…}: it covers tokens issued
// at or before at_us and is kept until until_us, both Unix microseconds
// (exact as Lua numbers, and PostgreSQL's precision too).

type markRecord struct {
	AtMicros    int64 `json:"at_us"`
	UntilMicros int64 `json:"until_us"`
}

// reviseScript widens a mark atomically: it keeps the later of the stored
// and the new at, and the later of the stored and the new until, and sets
// the key to expire at until by the caller's clock (ARGV[3] is its now). A
// mark that is over already is deleted.
var reviseScript = goredis.NewScript(`
local at, untl, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if cur then
	local c = cjson.decode(cur)
	if c.at_us > at then at = c.at_us end
	if c.until_us > untl then untl = c.until_us end
end
if untl <= now then
	redis.call('DEL', KEYS[1])
	return 0
end
local ttl = math.ceil((untl - now) / 1000)
redis.call('SET', KEYS[1], string.format('{"at_us":%.0f,"until_us":%.0f}', at, untl), 'PX', ttl)
return 1
`)

// Revoke marks id revoked for tokens issued at or before at, until until;
// revoking again can only widen the mark.
func (s *Store) Revoke(ctx context.Context, id string, at, until time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := reviseScript.Run(ctx, s.client, []string{s.revokedKey(id)},
		at.UnixMicro(), until.UnixMicro(), s.now().UnixMicro()).Err()
	return mapErr(err)
}

// Revoked reports whether a token issued at iat carrying any of ids is
// covered by a live mark: one MGET, the comparison in Go by the store's
// clock.
func (s *Store) Revoked(ctx context.Context, iat time.Time, ids ...string) (bool, error) {
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			keys = append(keys, s.revokedKey(id))
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return false, mapErr(err)
	}
	now, issued := s.now().UnixMicro(), iat.UnixMicro()
	for _, v := range vals {
		str, ok := v.(string)
		if !ok { // nil: no mark
			continue
		}
		var m markRecord
		if err := json.Unmarshal([]byte(str), &m); err != nil {
			return false, fmt.Errorf("redis: decoding revocation mark: %w", err)
		}
		if now < m.UntilMicros && issued <= m.AtMicros {
			return true, nil
		}
	}
	return false, nil
}
