package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/webapp/internal/domain"
)

// claimScript claims a sign-in unless a live claim exists: KEYS[1] is the
// claim; ARGV[2] its expiry and [3] the caller's now (Unix µs), [4] the
// key's TTL (ms). It returns 1 if claimed, 0 if claimed already. A call
// Redis runs after its caller gave up claims nothing.
var claimScript = goredis.NewScript(lateCheck + `
local claimed = redis.call('GET', KEYS[1])
if claimed and tonumber(claimed) > tonumber(ARGV[3]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
return 1
`)

// Claim marks the sign-in with this state claimed until expires; false if
// it is already.
func (s *Store) Claim(ctx context.Context, state domain.Secret, expires time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := claimScript.Run(ctx, s.client, []string{s.claimKey(hashOf(string(state)))},
		deadline(ctx), micros(expires), micros(s.now()), s.ttlUntil(expires)).Int()
	if err != nil {
		return false, mapErr(err)
	}
	return n == 1, nil
}

// Release forgets the claim on state, if any.
func (s *Store) Release(ctx context.Context, state domain.Secret) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.client.Del(ctx, s.claimKey(hashOf(string(state)))).Err())
}
